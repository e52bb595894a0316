"""The SQLite schema as an ordered list of migrations, and the code that applies them."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from barehttp.storage.base import SchemaTooNew

logger = logging.getLogger("barehttp.storage")


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step; `version` numbers run 1, 2, 3... and are never reused."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "users, sessions, login failures",
        (
            # COLLATE NOCASE folds ASCII case only, which is enough: validation keeps
            # usernames ASCII, so "Alice" and "alice" collide and nothing else does.
            """CREATE TABLE users (
                id INTEGER PRIMARY KEY,
                username TEXT NOT NULL UNIQUE COLLATE NOCASE,
                email TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                credits_used INTEGER NOT NULL DEFAULT 0 CHECK (credits_used >= 0),
                credits_limit INTEGER NOT NULL CHECK (credits_limit >= 0),
                created_at REAL NOT NULL
            )""",
            """CREATE TABLE sessions (
                token_hash BLOB PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL
            )""",
            "CREATE INDEX sessions_by_user ON sessions (user_id)",
            "CREATE INDEX sessions_by_expiry ON sessions (expires_at)",
            """CREATE TABLE login_failures (
                id INTEGER PRIMARY KEY,
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                failed_at REAL NOT NULL
            )""",
            "CREATE INDEX login_failures_by_key ON login_failures (scope, key, failed_at)",
            "CREATE INDEX login_failures_by_time ON login_failures (failed_at)",
        ),
    ),
    Migration(
        2,
        "attempts claimed before they are checked",
        (
            # Rows stored by claim_attempt carry the attempt's id, so a successful
            # attempt can take back exactly its own rows.
            "ALTER TABLE login_failures ADD COLUMN attempt_id INTEGER",
            "CREATE INDEX login_failures_by_attempt ON login_failures (attempt_id)",
            # A counter, not MAX(attempt_id) + 1: ids of deleted rows are never reused.
            "CREATE TABLE attempt_sequence (last_id INTEGER NOT NULL)",
            "INSERT INTO attempt_sequence (last_id) VALUES (0)",
        ),
    ),
)


def check_numbering(migrations: Sequence[Migration]) -> None:
    """Raise `ValueError` unless versions run 1, 2, 3... in order."""
    if [migration.version for migration in migrations] != list(range(1, len(migrations) + 1)):
        raise ValueError("migrations must be numbered 1, 2, 3... in order")


def apply_migrations(
    connection: sqlite3.Connection, migrations: Sequence[Migration], path: str
) -> None:
    """Apply the migrations this file lacks, all in one transaction.

    Raises:
        SchemaTooNew: if the file is past the last migration given.
        sqlite3.Error: if a step fails; nothing of this run is kept.
    """
    # One transaction for the check and all steps: two processes starting together
    # serialize here, and the second sees the work of the first and does nothing.
    with immediate_transaction(connection):
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            " version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
            " applied_at REAL NOT NULL)"
        )
        rows = connection.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        current = int(rows.fetchall()[0][0])
        latest = len(migrations)
        if current > latest:
            raise SchemaTooNew(f"{path} is at schema version {current}; this code knows {latest}")
        for migration in migrations[current:]:
            # Statement by statement: executescript() would COMMIT before running.
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, time.time()),
            )
            logger.info(
                "migrated %s to schema version %d: %s",
                path,
                migration.version,
                migration.description,
            )


@contextlib.contextmanager
def immediate_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (autocommit connection)."""
    # IMMEDIATE takes the write lock now, waiting on busy_timeout if need be.
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
