"""barehttp db copy: accounts, quotas and sessions between SQLite and PostgreSQL, both ways."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from pathlib import Path

import pytest

from barehttp.storage.base import Session, Storage, User
from barehttp.storage.postgres import PostgresStorage
from barehttp.storage.sqlite import SQLiteStorage
from barehttp.storage.transfer import TargetNotEmpty, copy_database
from tests.pgcluster import PostgresCluster
from tests.storage.test_storage import add_user, make_session

SCRIPT = pathlib.Path(sys.executable).parent / "barehttp"


def fill(storage: Storage) -> None:
    alice = add_user(storage, "Alice", credits_limit=50)
    bob = add_user(storage, "bob", credits_limit=10)
    storage.spend_credits(alice.id, 7)
    storage.create_session(make_session(alice.id, b"a" * 32, expires_at=9_000.0))
    storage.create_session(make_session(bob.id, b"b" * 32, expires_at=9_500.0))


def snapshot(storage: Storage) -> tuple[list[User], list[Session | None]]:
    users = storage.list_users()
    sessions = [
        storage.get_session(make_session(user.id, token).token_hash)
        for user, token in zip(users, (b"a" * 32, b"b" * 32), strict=False)
    ]
    return users, sessions


def test_sqlite_to_postgres_and_back(db_path: Path, postgres_url: str, tmp_path: Path) -> None:
    with SQLiteStorage(db_path) as source:
        fill(source)
        original = snapshot(source)
    report = copy_database(str(db_path), postgres_url)
    assert report.counts == {"users": 2, "sessions": 2}
    with PostgresStorage(postgres_url) as copied:
        assert snapshot(copied) == original
        assert copied.find_user("ALICE") is not None  # case-insensitive on the new side too
        newcomer = add_user(copied, "carol")  # ids continue after the copied ones
        assert newcomer.id == max(user.id for user in original[0]) + 1
    back = tmp_path / "back.db"
    copy_database(postgres_url, str(back))
    with SQLiteStorage(back) as returned:
        users, sessions = snapshot(returned)
        assert users[:2] == original[0] and sessions == original[1]
        assert [user.username for user in returned.list_users()] == ["Alice", "bob", "carol"]


def test_non_empty_target_refused_unless_forced(db_path: Path, postgres_url: str) -> None:
    with SQLiteStorage(db_path) as source:
        fill(source)
    with PostgresStorage(postgres_url) as target:
        add_user(target, "zed")
    with pytest.raises(TargetNotEmpty, match="--force"):
        copy_database(str(db_path), postgres_url)
    with PostgresStorage(postgres_url) as target:
        assert [user.username for user in target.list_users()] == ["zed"]  # untouched
    copy_database(str(db_path), postgres_url, replace=True)
    with PostgresStorage(postgres_url) as target:
        assert [user.username for user in target.list_users()] == ["Alice", "bob"]


def test_same_location_and_missing_source_refused(db_path: Path, tmp_path: Path) -> None:
    SQLiteStorage(db_path).close()
    with pytest.raises(ValueError, match="same"):
        copy_database(str(db_path), str(db_path), replace=True)
    missing = tmp_path / "missing.db"
    with pytest.raises(ValueError, match="no database"):
        copy_database(str(missing), str(db_path))
    assert not missing.exists()


def test_command_line_copy_hides_the_password(
    db_path: Path, postgres_cluster: PostgresCluster, postgres_database: str
) -> None:
    with SQLiteStorage(db_path) as source:
        fill(source)
    url = postgres_cluster.tcp_url(postgres_database)
    secret = url.split(":")[2].split("@")[0]

    def copy(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), "db", "copy", "--from", str(db_path), "--to", url, *extra],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = copy()
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("copied 2 users, 2 sessions from ")
    refused = copy()
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert secret not in done.stdout + done.stderr + refused.stderr
    assert copy("--force").returncode == 0
