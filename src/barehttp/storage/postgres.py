"""PostgreSQL backend: a bounded psycopg pool, single-statement writes, versioned migrations.

Needs the optional extra: ``pip install 'barehttp[postgres]'`` (psycopg 3 with its pool).
Every method is one SQL statement in autocommit mode (attempt counting: one short
transaction under an advisory lock), so many instances of the app can share one
database: PostgreSQL's row locks serialise concurrent spends on a user, and READ
COMMITTED re-checks a conditional UPDATE's WHERE clause against the row it waited for,
so two spenders can never both pass the limit check.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from types import TracebackType
from typing import Any, TypeVar

import psycopg
import psycopg.errors
import psycopg_pool
from psycopg import pq

from barehttp.storage import postgres_attempts as attempts
from barehttp.storage.base import (
    AttemptCounter,
    FailureScope,
    LiveUsage,
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
from barehttp.storage.live_usage import POSTGRES_LIVE_USAGE, live_usage_from_rows, postgres_ids
from barehttp.storage.migrations import Migration, check_numbering
from barehttp.storage.postgres_migrations import POSTGRES_MIGRATIONS, apply_postgres_migrations
from barehttp.storage.postgres_pool import PoolSettings, connect_options, open_pool
from barehttp.storage.rows import (
    SESSION_COLUMNS,
    SESSION_SPEND,
    SESSION_USER_QUERY,
    USER_COLUMNS,
    session_from_row,
    session_user_from_row,
    user_from_row,
)

logger = logging.getLogger("barehttp.storage")
T = TypeVar("T")
_SESSION_USER_QUERY = SESSION_USER_QUERY.format(placeholder="%s")
_SESSION_SPEND = SESSION_SPEND.format(placeholder="%s")

# The server ended the session instead of answering, so nothing of ours was committed
# (a statement it was running is rolled back): admin_shutdown, crash_shutdown,
# cannot_connect_now (PostgreSQL docs, appendix A, class 57). Safe to run it again.
_NOT_EXECUTED_STATES = frozenset({"57P01", "57P02", "57P03"})


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
        with (
            self._errors(),
            psycopg.connect(conninfo, **connect_options(self._settings)) as connection,
        ):
            apply_postgres_migrations(connection, migrations, self._label)
        self._pool = open_pool(conninfo, self._settings)

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
                f" created_at) VALUES (%s, %s, %s, %s, %s) RETURNING {USER_COLUMNS}",
                (username, email, password_hash, credits_limit, created_at),
            )
        except psycopg.errors.UniqueViolation as error:
            # The one unique index besides the key is lower(username).
            raise UsernameTaken(username) from error
        return user_from_row(rows[0])

    def get_user(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        rows, _ = self._run(
            f"SELECT {USER_COLUMNS} FROM users WHERE id = %s", (user_id,), idempotent=True
        )
        return user_from_row(rows[0]) if rows else None

    def find_user(self, username: str) -> User | None:
        """The user with this username ignoring case, or None."""
        rows, _ = self._run(
            f"SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower(%s)",
            (username,),
            idempotent=True,
        )
        return user_from_row(rows[0]) if rows else None

    def list_users(self) -> list[User]:
        """Every user, ordered by id."""
        rows, _ = self._run(f"SELECT {USER_COLUMNS} FROM users ORDER BY id", (), idempotent=True)
        return [user_from_row(row) for row in rows]

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
            f" RETURNING {USER_COLUMNS}",
            (credits_limit, username),
            idempotent=True,
        )
        if not rows:
            raise UserNotFound(username)
        return user_from_row(rows[0])

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

    def spend_session_credits(self, token_hash: bytes, cost: int, now: float) -> Usage | None:
        """`spend_credits` for the user of a live session, in one atomic step.

        One round trip for a signed-in spend instead of three (session, user, spend).
        The session is read at the statement's start; the UPDATE then locks and
        re-checks the user's row as `spend_credits` does. Not retried, as a spend.
        """
        check_cost(cost)
        rows, _ = self._run(_SESSION_SPEND, (cost, token_hash, now, cost))
        return Usage(credits_used=int(rows[0][0]), credits_limit=int(rows[0][1])) if rows else None

    def get_live_usage(self, user_ids: Collection[int], now: float) -> dict[int, LiveUsage]:
        """The counter and live sessions of each of `user_ids`, in one read."""
        if not user_ids:
            return {}
        params = (now, postgres_ids(user_ids))
        rows, _ = self._run(POSTGRES_LIVE_USAGE, params, idempotent=True)
        return live_usage_from_rows(rows)

    # Sessions.

    def create_session(self, session: Session) -> None:
        """Store a new session. Raises `UserNotFound` if its user does not exist."""
        try:
            self._run(
                f"INSERT INTO sessions ({SESSION_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
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
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE token_hash = %s",
            (token_hash,),
            idempotent=True,
        )
        return session_from_row(rows[0]) if rows else None

    def get_session_user(self, token_hash: bytes) -> tuple[Session, User] | None:
        """The session with this token hash, expired or not, and its user; or None.

        One statement, one round trip: a signed-in request needs both, and the
        separate lookups cost a second trip to the server and back.
        """
        rows, _ = self._run(_SESSION_USER_QUERY, (token_hash,), idempotent=True)
        return session_user_from_row(rows[0]) if rows else None

    def delete_session(self, token_hash: bytes) -> bool:
        """Delete one session; True if it existed."""
        _, count = self._run("DELETE FROM sessions WHERE token_hash = %s", (token_hash,))
        return count > 0

    def delete_user_sessions(self, user_id: int) -> int:
        """Delete every session of a user; returns how many."""
        return self._run("DELETE FROM sessions WHERE user_id = %s", (user_id,))[1]

    def delete_expired_sessions(self, now: float) -> int:
        """Delete sessions with `expires_at <= now`; returns how many this call deleted.

        Instances cleaning at once never wait for each other: rows another one is
        deleting right now are skipped (SKIP LOCKED), and that one counts them.
        """
        return self._run(
            "DELETE FROM sessions WHERE token_hash IN (SELECT token_hash FROM sessions"
            " WHERE expires_at <= %s FOR UPDATE SKIP LOCKED)",
            (now,),
        )[1]

    # Sign-in failures and claimed attempts.

    def record_login_failure(self, scope: FailureScope, key: str, failed_at: float) -> None:
        """Remember one failed sign-in counted against `key`."""
        self._call(lambda connection: attempts.record_failure(connection, scope, key, failed_at))

    def recent_login_failures(
        self, scope: FailureScope, key: str, since: float, limit: int
    ) -> list[float]:
        """Times of failures against `key` later than `since`, newest first."""
        return self._call(
            lambda connection: attempts.recent_failures(connection, scope, key, since, limit),
            idempotent=True,
        )

    def clear_login_failures(self, scope: FailureScope, key: str) -> int:
        """Forget every failure against `key`; returns how many."""
        return self._call(lambda connection: attempts.clear_failures(connection, scope, key))

    def delete_login_failures_before(self, before: float) -> int:
        """Forget failures at or before `before`; returns how many."""
        return self._call(lambda connection: attempts.delete_failures_before(connection, before))

    def claim_attempt(
        self, counters: Sequence[AttemptCounter], attempted_at: float, since: float
    ) -> int | None:
        """Record one attempt against every counter, or none if any counter is full."""
        if not counters:
            raise ValueError("claim_attempt needs at least one counter")
        return self._call(
            lambda connection: attempts.claim_attempt(connection, counters, attempted_at, since)
        )

    def release_attempt(self, attempt_id: int) -> int:
        """Delete the rows of one claimed attempt; returns how many."""
        return self._call(lambda connection: attempts.release_attempt(connection, attempt_id))

    # Internals.

    def _run(
        self, sql: str, parameters: Sequence[object], *, idempotent: bool = False
    ) -> tuple[list[Any], int]:
        """Run one statement on a pooled connection: (rows, rows changed)."""

        def execute(connection: psycopg.Connection[Any]) -> tuple[list[Any], int]:
            cursor = connection.execute(sql.encode(), parameters)
            # The result's status, not `cursor.description`: that one builds a column
            # object per column, about 17 µs of client CPU of a 60 µs spend.
            result = cursor.pgresult
            has_rows = result is not None and result.status == pq.ExecStatus.TUPLES_OK
            return (cursor.fetchall() if has_rows else []), cursor.rowcount

        return self._call(execute, idempotent=idempotent)

    def _call(
        self, operation: Callable[[psycopg.Connection[Any]], T], *, idempotent: bool = False
    ) -> T:
        """Run `operation` on a pooled connection, translating driver errors.

        A connection found dead (the server restarted) empties the pool, and the
        operation runs once more on a fresh connection when that cannot count it twice:
        it is `idempotent`, or the server said it ended the session before running it.
        """
        # getconn/putconn rather than pool.connection(): that one also runs the
        # connection's own `with` block, a commit step per call that an autocommit
        # connection does not need. With the inline error handling below, a get_user
        # took about 55 µs of client CPU instead of 100 µs (single thread, loaded machine).
        if self._closed:
            raise StorageError(f"storage {self._label} is closed")
        for attempt in (1, 2):
            try:
                connection = self._pool.getconn()
            except psycopg.Error as error:
                raise self._translate(error) from None
            try:
                return operation(connection)
            except (psycopg.errors.UniqueViolation, psycopg.errors.ForeignKeyViolation):
                raise  # the caller turns these into UsernameTaken / UserNotFound
            except psycopg.OperationalError as error:
                if connection.broken:
                    # One dead connection means the others died with it.
                    self._pool.drain()
                    if attempt == 1 and (idempotent or _was_not_run(error)):
                        logger.info("retrying on a fresh connection: %s", self._scrub(error))
                        continue
                raise self._translate(error) from None
            except psycopg.Error as error:
                raise self._translate(error) from None
            finally:
                self._pool.putconn(connection)  # a broken one is replaced by the pool
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Translate driver errors into `StorageError` (passwords hidden) at the boundary."""
        try:
            yield
        except psycopg.Error as error:
            raise self._translate(error) from None

    def _translate(self, error: psycopg.Error) -> StorageError:
        """The `StorageError` for a driver error; its message hides any password."""
        if isinstance(error, psycopg_pool.PoolClosed):
            return StorageError(f"storage {self._label} is closed")
        if isinstance(error, psycopg.OperationalError):  # PoolTimeout is one too
            # Server down or restarting, no free connection in time, statement timeout.
            return StorageUnavailable(
                f"postgresql ({self._label}) unavailable: {self._scrub(error)}"
            )
        return StorageError(f"postgresql ({self._label}): {self._scrub(error)}")

    def _scrub(self, error: BaseException) -> str:
        text = " ".join(str(error).split())  # libpq messages span lines
        return scrub(text, self._conninfo)


def _was_not_run(error: psycopg.OperationalError) -> bool:
    return error.sqlstate in _NOT_EXECUTED_STATES
