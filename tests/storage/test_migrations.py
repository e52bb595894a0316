"""Schema migrations: ordered, recorded, idempotent, transactional."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from barehttp.storage.base import SchemaTooNew, StorageError
from barehttp.storage.migrations import MIGRATIONS, Migration
from barehttp.storage.sqlite import SQLiteStorage

EXTRA = Migration(len(MIGRATIONS) + 1, "add notes", ("CREATE TABLE notes (body TEXT)",))


def recorded_versions(db_path: Path) -> list[int]:
    raw = sqlite3.connect(db_path)
    versions = [row[0] for row in raw.execute("SELECT version FROM schema_version ORDER BY 1")]
    raw.close()
    return versions


def table_names(db_path: Path) -> set[str]:
    raw = sqlite3.connect(db_path)
    names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    raw.close()
    return names


def test_fresh_file_gets_every_migration(db_path: Path) -> None:
    SQLiteStorage(db_path).close()
    assert recorded_versions(db_path) == [m.version for m in MIGRATIONS]
    assert {"users", "sessions", "login_failures", "schema_version"} <= table_names(db_path)


def test_reopening_applies_nothing_twice(db_path: Path) -> None:
    first = SQLiteStorage(db_path)
    first.create_user(
        username="alice", email="a@example.com", password_hash="h", credits_limit=1, created_at=0
    )
    first.close()
    SQLiteStorage(db_path).close()  # would fail on CREATE TABLE users if re-run
    second = SQLiteStorage(db_path)
    assert recorded_versions(db_path) == [m.version for m in MIGRATIONS]
    assert [user.username for user in second.list_users()] == ["alice"]
    second.close()


def test_pending_migration_applied_on_open(db_path: Path) -> None:
    SQLiteStorage(db_path).close()
    SQLiteStorage(db_path, migrations=(*MIGRATIONS, EXTRA)).close()
    assert recorded_versions(db_path)[-1] == EXTRA.version
    assert "notes" in table_names(db_path)


def test_failed_migration_rolls_back_entirely(db_path: Path) -> None:
    SQLiteStorage(db_path).close()
    broken = Migration(EXTRA.version, "broken", ("CREATE TABLE half (x)", "NOT SQL AT ALL"))
    with pytest.raises(StorageError):
        SQLiteStorage(db_path, migrations=(*MIGRATIONS, broken))
    assert recorded_versions(db_path) == [m.version for m in MIGRATIONS]
    assert "half" not in table_names(db_path)


def test_refuses_database_from_newer_code(db_path: Path) -> None:
    SQLiteStorage(db_path, migrations=(*MIGRATIONS, EXTRA)).close()
    with pytest.raises(SchemaTooNew):
        SQLiteStorage(db_path)


@pytest.mark.parametrize(
    "versions",
    [(2,), (1, 3), (2, 1), (1, 1)],
    ids=["starts-at-2", "gap", "out-of-order", "duplicate"],
)
def test_rejects_misnumbered_migrations(db_path: Path, versions: tuple[int, ...]) -> None:
    migrations = [Migration(version, "x", ()) for version in versions]
    with pytest.raises(ValueError, match="numbered"):
        SQLiteStorage(db_path, migrations=migrations)
