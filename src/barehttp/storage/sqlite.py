"""SQLite backend: WAL mode, one connection per thread, versioned schema migrations."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Collection, Iterator, Sequence
from types import TracebackType
from typing import Any

from barehttp.storage import sqlite_attempts
from barehttp.storage.base import (
    AttemptCounter,
    FailureScope,
    LiveUsage,
    Session,
    StorageError,
    Usage,
    User,
    UsernameTaken,
    UserNotFound,
    check_cost,
    check_credits_limit,
)
from barehttp.storage.live_usage import SQLITE_LIVE_USAGE, live_usage_from_rows, sqlite_ids
from barehttp.storage.migrations import MIGRATIONS, Migration, apply_migrations, check_numbering
from barehttp.storage.rows import (
    SESSION_COLUMNS,
    SESSION_SPEND,
    SESSION_USER_QUERY,
    USER_COLUMNS,
    session_from_row,
    session_user_from_row,
    user_from_row,
)
from barehttp.storage.sqlite_file import create_private, enable_wal

logger = logging.getLogger("barehttp.storage")
_SESSION_USER_QUERY = SESSION_USER_QUERY.format(placeholder="?")
_SESSION_SPEND = SESSION_SPEND.format(placeholder="?")


class _ThreadConnection:
    """Holds one thread's connection; when the thread ends, the holder dies and closes it."""

    __slots__ = ("__weakref__", "connection")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        weakref.finalize(self, connection.close)


class SQLiteStorage:
    """`Storage` on one SQLite file, safe from many threads and several processes.

    Each thread gets its own connection (sqlite3 connections must not be shared while
    in use). Writes are single statements or `BEGIN IMMEDIATE` transactions, so they
    wait up to `busy_timeout_ms` for the lock instead of failing with "database is locked".
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = 5_000,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        """Open (creating if needed) and migrate the database at `path`.

        Raises:
            ValueError: for ":memory:" (each thread would see its own empty database),
                or for migrations not numbered 1, 2, 3...
            SchemaTooNew: if the file was migrated past the last known version.
            StorageError: if SQLite fails.
        """
        if str(path) == ":memory:" or str(path).startswith("file::memory:"):
            raise ValueError("SQLiteStorage needs a file; an in-memory database is per thread")
        check_numbering(migrations)
        self._path = os.fspath(path)
        create_private(self._path)
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._lock = threading.Lock()
        self._holders: weakref.WeakSet[_ThreadConnection] = weakref.WeakSet()
        self._closed = False
        try:
            with self._errors():
                connection = self._connection()
                enable_wal(connection, self._path, self._busy_timeout_ms)
                apply_migrations(connection, migrations, self._path)
        except BaseException:
            self.close()
            raise

    # Lifecycle.

    def close(self) -> None:
        """Close every thread's connection. Later calls raise `StorageError`."""
        with self._lock:
            self._closed = True
            holders = list(self._holders)
            self._holders.clear()
        for holder in holders:
            holder.connection.close()

    def __enter__(self) -> SQLiteStorage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # Accounts.

    def create_user(
        self,
        *,
        username: str,
        email: str,
        password_hash: str,
        credits_limit: int,
        created_at: float,
    ) -> User:
        """Insert a user with `credits_used` 0. Raises `UsernameTaken`."""
        check_credits_limit(credits_limit)
        with self._errors():
            try:
                rows = self._execute(
                    f"INSERT INTO users (username, email, password_hash, credits_limit,"
                    f" created_at) VALUES (?, ?, ?, ?, ?) RETURNING {USER_COLUMNS}",
                    (username, email, password_hash, credits_limit, created_at),
                )
            except sqlite3.IntegrityError as error:
                # Only one UNIQUE constraint exists, so this is the username.
                raise UsernameTaken(username) from error
        return user_from_row(rows[0])

    def get_user(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        with self._errors():
            rows = self._execute(f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return user_from_row(rows[0]) if rows else None

    def find_user(self, username: str) -> User | None:
        """The user with this username ignoring case, or None."""
        with self._errors():
            rows = self._execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE username = ?", (username,)
            )
        return user_from_row(rows[0]) if rows else None

    def list_users(self) -> list[User]:
        """Every user, ordered by id."""
        with self._errors():
            rows = self._execute(f"SELECT {USER_COLUMNS} FROM users ORDER BY id", ())
        return [user_from_row(row) for row in rows]

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a user's stored hash. Raises `UserNotFound`."""
        with self._errors():
            rows = self._execute(
                "UPDATE users SET password_hash = ? WHERE id = ? RETURNING id",
                (password_hash, user_id),
            )
        if not rows:
            raise UserNotFound(user_id)

    def set_credits_limit(self, username: str, credits_limit: int) -> User:
        """Set the limit of the user named (ignoring case). Raises `UserNotFound`."""
        check_credits_limit(credits_limit)
        with self._errors():
            rows = self._execute(
                f"UPDATE users SET credits_limit = ? WHERE username = ? RETURNING {USER_COLUMNS}",
                (credits_limit, username),
            )
        if not rows:
            raise UserNotFound(username)
        return user_from_row(rows[0])

    # Quota.

    def spend_credits(self, user_id: int, cost: int) -> Usage | None:
        """Atomically add `cost` to `credits_used` if it stays within the limit."""
        check_cost(cost)
        with self._errors():
            # One conditional UPDATE: the check and the increment happen under the write
            # lock together, so concurrent spenders can never overshoot the limit.
            rows = self._execute(
                "UPDATE users SET credits_used = credits_used + ?"
                " WHERE id = ? AND credits_used + ? <= credits_limit"
                " RETURNING credits_used, credits_limit",
                (cost, user_id, cost),
            )
            if rows:
                return Usage(credits_used=int(rows[0][0]), credits_limit=int(rows[0][1]))
            if not self._execute("SELECT 1 FROM users WHERE id = ?", (user_id,)):
                raise UserNotFound(user_id)
        return None

    def spend_session_credits(self, token_hash: bytes, cost: int, now: float) -> Usage | None:
        """`spend_credits` for the user of a live session, in one atomic step."""
        check_cost(cost)
        with self._errors():
            rows = self._execute(_SESSION_SPEND, (cost, token_hash, now, cost))
        return Usage(credits_used=int(rows[0][0]), credits_limit=int(rows[0][1])) if rows else None

    def get_live_usage(self, user_ids: Collection[int], now: float) -> dict[int, LiveUsage]:
        """The counter and live sessions of each of `user_ids`, in one read."""
        if not user_ids:
            return {}
        with self._errors():
            rows = self._execute(SQLITE_LIVE_USAGE, (now, sqlite_ids(user_ids)))
        return live_usage_from_rows(rows)

    # Sessions.

    def create_session(self, session: Session) -> None:
        """Store a new session. Raises `UserNotFound` if its user does not exist."""
        with self._errors():
            try:
                self._execute(
                    f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (
                        session.token_hash,
                        session.user_id,
                        session.csrf_token,
                        session.created_at,
                        session.expires_at,
                    ),
                )
            except sqlite3.IntegrityError as error:
                # 256 random bits never collide, so this is the foreign key.
                raise UserNotFound(session.user_id) from error

    def get_session(self, token_hash: bytes) -> Session | None:
        """The session with this token hash, expired or not, or None."""
        with self._errors():
            rows = self._execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = ?", (token_hash,)
            )
        return session_from_row(rows[0]) if rows else None

    def get_session_user(self, token_hash: bytes) -> tuple[Session, User] | None:
        """The session with this token hash, expired or not, and its user; or None."""
        with self._errors():
            rows = self._execute(_SESSION_USER_QUERY, (token_hash,))
        return session_user_from_row(rows[0]) if rows else None

    def delete_session(self, token_hash: bytes) -> bool:
        """Delete one session; True if it existed."""
        with self._errors():
            return (
                self._execute_count("DELETE FROM sessions WHERE token_hash = ?", (token_hash,)) > 0
            )

    def delete_user_sessions(self, user_id: int) -> int:
        """Delete every session of a user; returns how many."""
        with self._errors():
            return self._execute_count("DELETE FROM sessions WHERE user_id = ?", (user_id,))

    def delete_expired_sessions(self, now: float) -> int:
        """Delete sessions with `expires_at <= now`; returns how many."""
        with self._errors():
            return self._execute_count("DELETE FROM sessions WHERE expires_at <= ?", (now,))

    # Sign-in failures and claimed attempts.

    def record_login_failure(self, scope: FailureScope, key: str, failed_at: float) -> None:
        """Remember one failed sign-in counted against `key`."""
        with self._errors():
            sqlite_attempts.record_failure(self._connection(), scope, key, failed_at)

    def recent_login_failures(
        self, scope: FailureScope, key: str, since: float, limit: int
    ) -> list[float]:
        """Times of failures against `key` later than `since`, newest first."""
        with self._errors():
            return sqlite_attempts.recent_failures(self._connection(), scope, key, since, limit)

    def clear_login_failures(self, scope: FailureScope, key: str) -> int:
        """Forget every failure against `key`; returns how many."""
        with self._errors():
            return sqlite_attempts.clear_failures(self._connection(), scope, key)

    def delete_login_failures_before(self, before: float) -> int:
        """Forget failures at or before `before`; returns how many."""
        with self._errors():
            return sqlite_attempts.delete_failures_before(self._connection(), before)

    def claim_attempt(
        self, counters: Sequence[AttemptCounter], attempted_at: float, since: float
    ) -> int | None:
        """Record one attempt against every counter, or none if any counter is full."""
        with self._errors():
            return sqlite_attempts.claim_attempt(self._connection(), counters, attempted_at, since)

    def release_attempt(self, attempt_id: int) -> int:
        """Delete the rows of one claimed attempt; returns how many."""
        with self._errors():
            return sqlite_attempts.release_attempt(self._connection(), attempt_id)

    # Internals.

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        holder: _ThreadConnection | None = getattr(self._local, "holder", None)
        if self._closed:
            raise StorageError(f"storage {self._path} is closed")
        if holder is None:
            holder = _ThreadConnection(self._open())
            with self._lock:
                if self._closed:
                    holder.connection.close()
                    raise StorageError(f"storage {self._path} is closed")
                self._holders.add(holder)
            self._local.holder = holder
        return holder.connection

    def _open(self) -> sqlite3.Connection:
        """A configured connection. Autocommit: transactions are explicit BEGIN IMMEDIATE."""
        connection = sqlite3.connect(
            self._path,
            timeout=self._busy_timeout_ms / 1000,
            # None = autocommit. Python's implicit BEGIN is DEFERRED: a transaction that
            # reads and then writes can fail with SQLITE_BUSY without waiting at all.
            isolation_level=None,
            # The connection is used by its own thread only; close() may run elsewhere.
            check_same_thread=False,
        )
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            connection.execute("PRAGMA foreign_keys = ON")  # off by default, per connection
            # In WAL mode NORMAL never corrupts; a power cut may lose the last commits.
            connection.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _execute(self, sql: str, parameters: Sequence[object]) -> list[Any]:
        """Run one statement and fetch all rows.

        Fetching everything steps the statement to its end, which ends the autocommit
        transaction; a half-read cursor would keep its lock (RETURNING writes included).
        """
        return self._connection().execute(sql, parameters).fetchall()

    def _execute_count(self, sql: str, parameters: Sequence[object]) -> int:
        """Run one write statement; returns the rows it changed."""
        cursor = self._connection().execute(sql, parameters)
        count = cursor.rowcount
        cursor.close()
        return count

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Translate sqlite3 errors into `StorageError` at the layer boundary."""
        try:
            yield
        except sqlite3.Error as error:
            raise StorageError(f"sqlite ({self._path}): {error}") from error
