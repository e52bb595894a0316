"""PostgreSQL backend: a bounded psycopg pool, single-statement writes, versioned migrations.

Needs the optional extra: ``pip install 'barehttp[postgres]'`` (psycopg 3 with its pool).
Every method is one SQL statement in autocommit mode, so many instances of the app can
share one database: PostgreSQL's row locks serialise concurrent spends on a user, and
READ COMMITTED re-checks a conditional UPDATE's WHERE clause against the row it waited
for, so two spenders can never both pass the limit check.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import psycopg
import psycopg.errors
import psycopg_pool

from barehttp.storage.base import (
    FailureScope,
    Session,
    StorageError,
    StorageUnavailable,
    Usage,
    User,
    UsernameTaken,
    UserNotFound,
    check_cost,
    check_credits_limit,
)
from barehttp.storage.dburl import redact, scrub
from barehttp.storage.migrations import Migration, check_numbering
from barehttp.storage.postgres_migrations import POSTGRES_MIGRATIONS, apply_postgres_migrations

logger = logging.getLogger("barehttp.storage")

_USER_COLUMNS = "id, username, email, password_hash, credits_used, credits_limit, created_at"
_SESSION_COLUMNS = "token_hash, user_id, csrf_token, created_at, expires_at"
# The server ended the session before running our statement (PostgreSQL appendix A,
# class 57): admin_shutdown, crash_shutdown, cannot_connect_now. Safe to run it again.
_NOT_EXECUTED_STATES = frozenset({"57P01", "57P02", "57P03"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolSettings:
    """Bounds of one process's connection pool; each limit ends in StorageUnavailable (503)."""

    # Every instance holds up to max_connections; all instances together must stay
    # under the server's max_connections (PostgreSQL's default is 100).
    min_connections: int = 1
    max_connections: int = 10
    acquire_timeout_s: float = 2.0  # wait for a free connection, then 503
    connect_timeout_s: int = 3  # libpq connect_timeout: whole seconds, at least 2
    statement_timeout_s: float = 5.0  # the server cancels a longer statement: 503
    # A lost connection is re-made with backoff for this long; after that the next
    # request starts afresh, so recovery after an outage takes at most about this.
    reconnect_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_connections <= self.max_connections:
            raise ValueError("min_connections must be from 0 to max_connections")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.connect_timeout_s < 2:  # libpq treats 1 as 2 and 0 as "wait forever"
            raise ValueError("connect_timeout_s must be at least 2")
        for name in ("acquire_timeout_s", "statement_timeout_s", "reconnect_timeout_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number of seconds above 0")


class PostgresStorage:
    """`Storage` on a PostgreSQL database, safe from many threads, processes and hosts."""

    def __init__(
        self,
        conninfo: str,
        *,
        pool: PoolSettings | None = None,
        migrations: Sequence[Migration] = POSTGRES_MIGRATIONS,
    ) -> None:
        """Connect, migrate under an advisory lock, and open the pool.

        `conninfo` is a libpq URL or key=value string; PGPASSWORD, PGHOST, .pgpass
        and the other libpq defaults apply as with every libpq tool.

        Raises:
            ValueError: for migrations not numbered 1, 2, 3...
            SchemaTooNew: if the database was migrated past the last known version.
            StorageUnavailable: if the server cannot be reached.
            StorageError: if anything else fails.
        """
        check_numbering(migrations)
        self._conninfo = conninfo
        self._label = redact(conninfo)
        self._settings = pool or PoolSettings()
        self._closed = False
        statement_timeout_ms = int(self._settings.statement_timeout_s * 1000)
        connect_kwargs: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": self._settings.connect_timeout_s,
            "application_name": "barehttp",
        }
        with self._errors(), psycopg.connect(conninfo, **connect_kwargs) as connection:
            apply_postgres_migrations(connection, migrations, self._label)

        def configure(connection: psycopg.Connection[Any]) -> None:
            connection.execute(f"SET statement_timeout = {statement_timeout_ms}".encode())

        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = (
            psycopg_pool.ConnectionPool(
                conninfo,
                min_size=self._settings.min_connections,
                max_size=self._settings.max_connections,
                timeout=self._settings.acquire_timeout_s,
                reconnect_timeout=self._settings.reconnect_timeout_s,
                kwargs=connect_kwargs,
                configure=configure,
                name="barehttp",
                open=True,
            )
        )

    # Lifecycle.

    def close(self) -> None:
        """Close the pool. Later calls raise `StorageError`."""
        self._closed = True
        self._pool.close()

    def __enter__(self) -> PostgresStorage:
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
        try:
            rows, _ = self._run(
                f"INSERT INTO users (username, email, password_hash, credits_limit,"
                f" created_at) VALUES (%s, %s, %s, %s, %s) RETURNING {_USER_COLUMNS}",
                (username, email, password_hash, credits_limit, created_at),
            )
        except psycopg.errors.UniqueViolation as error:
            # The one unique index besides the key is lower(username).
            raise UsernameTaken(username) from error
        return _user_from_row(rows[0])

    def get_user(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        rows, _ = self._run(
            f"SELECT {_USER_COLUMNS} FROM users WHERE id = %s", (user_id,), idempotent=True
        )
        return _user_from_row(rows[0]) if rows else None

    def find_user(self, username: str) -> User | None:
        """The user with this username ignoring case, or None."""
        rows, _ = self._run(
            f"SELECT {_USER_COLUMNS} FROM users WHERE lower(username) = lower(%s)",
            (username,),
            idempotent=True,
        )
        return _user_from_row(rows[0]) if rows else None

    def list_users(self) -> list[User]:
        """Every user, ordered by id."""
        rows, _ = self._run(f"SELECT {_USER_COLUMNS} FROM users ORDER BY id", (), idempotent=True)
        return [_user_from_row(row) for row in rows]

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a user's stored hash. Raises `UserNotFound`."""
        _, count = self._run(
            "UPDATE users SET password_hash = %s WHERE id = %s",
            (password_hash, user_id),
            idempotent=True,  # setting the same value twice is setting it once
        )
        if not count:
            raise UserNotFound(user_id)

    def set_credits_limit(self, username: str, credits_limit: int) -> User:
        """Set the limit of the user named (ignoring case). Raises `UserNotFound`."""
        check_credits_limit(credits_limit)
        rows, _ = self._run(
            f"UPDATE users SET credits_limit = %s WHERE lower(username) = lower(%s)"
            f" RETURNING {_USER_COLUMNS}",
            (credits_limit, username),
            idempotent=True,
        )
        if not rows:
            raise UserNotFound(username)
        return _user_from_row(rows[0])

    # Quota.

    def spend_credits(self, user_id: int, cost: int) -> Usage | None:
        """Atomically add `cost` to `credits_used` if it stays within the limit."""
        check_cost(cost)
        # One conditional UPDATE, never read-then-write. Not retried after a lost
        # connection unless the server said it did not run it: it may have committed.
        rows, _ = self._run(
            "UPDATE users SET credits_used = credits_used + %s"
            " WHERE id = %s AND credits_used + %s <= credits_limit"
            " RETURNING credits_used, credits_limit",
            (cost, user_id, cost),
        )
        if rows:
            return Usage(credits_used=int(rows[0][0]), credits_limit=int(rows[0][1]))
        if not self._run("SELECT 1 FROM users WHERE id = %s", (user_id,), idempotent=True)[0]:
            raise UserNotFound(user_id)
        return None

    # Sessions.

    def create_session(self, session: Session) -> None:
        """Store a new session. Raises `UserNotFound` if its user does not exist."""
        try:
            self._run(
                f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
                (
                    session.token_hash,
                    session.user_id,
                    session.csrf_token,
                    session.created_at,
                    session.expires_at,
                ),
            )
        except psycopg.errors.ForeignKeyViolation as error:
            raise UserNotFound(session.user_id) from error

    def get_session(self, token_hash: bytes) -> Session | None:
        """The session with this token hash, expired or not, or None."""
        rows, _ = self._run(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE token_hash = %s",
            (token_hash,),
            idempotent=True,
        )
        if not rows:
            return None
        row = rows[0]
        return Session(
            token_hash=bytes(row[0]),
            user_id=int(row[1]),
            csrf_token=str(row[2]),
            created_at=float(row[3]),
            expires_at=float(row[4]),
        )

    def delete_session(self, token_hash: bytes) -> bool:
        """Delete one session; True if it existed."""
        _, count = self._run("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))
        return count > 0

    def delete_user_sessions(self, user_id: int) -> int:
        """Delete every session of a user; returns how many."""
        return self._run("DELETE FROM sessions WHERE user_id = %s", (user_id,))[1]

    def delete_expired_sessions(self, now: float) -> int:
        """Delete sessions with `expires_at <= now`; returns how many.

        Instances cleaning at once do not conflict: a row deleted by one is skipped by
        the other once the first commits, and each counts only what it deleted.
        """
        return self._run("DELETE FROM sessions WHERE expires_at <= %s", (now,))[1]

    # Sign-in failures.

    def record_login_failure(self, scope: FailureScope, key: str, failed_at: float) -> None:
        """Remember one failed sign-in counted against `key`."""
        self._run(
            "INSERT INTO login_failures (scope, key, failed_at) VALUES (%s, %s, %s)",
            (scope.value, key, failed_at),
        )

    def recent_login_failures(
        self, scope: FailureScope, key: str, since: float, limit: int
    ) -> list[float]:
        """Times of failures against `key` later than `since`, newest first."""
        rows, _ = self._run(
            "SELECT failed_at FROM login_failures"
            " WHERE scope = %s AND key = %s AND failed_at > %s"
            " ORDER BY failed_at DESC LIMIT %s",
            (scope.value, key, since, limit),
            idempotent=True,
        )
        return [float(row[0]) for row in rows]

    def clear_login_failures(self, scope: FailureScope, key: str) -> int:
        """Forget every failure against `key`; returns how many."""
        return self._run(
            "DELETE FROM login_failures WHERE scope = %s AND key = %s", (scope.value, key)
        )[1]

    def delete_login_failures_before(self, before: float) -> int:
        """Forget failures at or before `before`; returns how many."""
        return self._run("DELETE FROM login_failures WHERE failed_at <= %s", (before,))[1]

    # Internals.

    def _run(
        self, sql: str, parameters: Sequence[object], *, idempotent: bool = False
    ) -> tuple[list[Any], int]:
        """Run one statement on a pooled connection: (rows, rows changed).

        A connection found dead (the server restarted) empties the pool, and the
        statement runs once more on a fresh connection when that cannot count it twice:
        it is `idempotent`, or the server said it ended the session before running it.
        """
        if self._closed:
            raise StorageError(f"storage {self._label} is closed")
        for attempt in (1, 2):
            with self._errors(), self._pool.connection() as connection:
                try:
                    cursor = connection.execute(sql.encode(), parameters)
                    rows = cursor.fetchall() if cursor.description is not None else []
                    return rows, cursor.rowcount
                except psycopg.OperationalError as error:
                    if not connection.broken:
                        raise
                    # One dead connection means the others died with it.
                    self._pool.drain()
                    if attempt == 2 or not (idempotent or _was_not_run(error)):
                        raise
                    logger.info("retrying on a fresh connection: %s", self._scrub(error))
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Translate driver errors into `StorageError` (passwords hidden) at the boundary."""
        try:
            yield
        except (psycopg.errors.UniqueViolation, psycopg.errors.ForeignKeyViolation):
            raise  # the caller turns these into UsernameTaken / UserNotFound
        except psycopg_pool.PoolClosed as error:
            raise StorageError(f"storage {self._label} is closed") from error
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            # Server down or restarting, no free connection in time, statement timeout.
            raise StorageUnavailable(
                f"postgresql ({self._label}) unavailable: {self._scrub(error)}"
            ) from None
        except psycopg.Error as error:
            raise StorageError(f"postgresql ({self._label}): {self._scrub(error)}") from None

    def _scrub(self, error: BaseException) -> str:
        text = " ".join(str(error).split())  # libpq messages span lines
        return scrub(text, self._conninfo)


def _was_not_run(error: psycopg.OperationalError) -> bool:
    return error.sqlstate in _NOT_EXECUTED_STATES


def _user_from_row(row: Sequence[Any]) -> User:
    """A `User` from a row in `_USER_COLUMNS` order."""
    return User(
        id=int(row[0]),
        username=str(row[1]),
        email=str(row[2]),
        password_hash=str(row[3]),
        credits_used=int(row[4]),
        credits_limit=int(row[5]),
        created_at=float(row[6]),
    )
