"""The Storage protocol, its value types and its errors; every backend implements these."""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Upper bound for a credit limit or a single cost. It keeps every sum far below the
# 64-bit integers that SQLite and PostgreSQL store, so `used + cost` can never overflow.
MAX_CREDITS = 1_000_000_000


class StorageError(Exception):
    """A storage operation failed; the message is safe to log, not meant for end users."""


class StorageUnavailable(StorageError):
    """The database cannot be reached now (down, restarting, pool exhausted, timed out).

    Nothing was changed, or the change's outcome is unknown; callers answer 503 and the
    backend recovers on its own once the database is back.
    """


class UsernameTaken(StorageError):
    """Sign-up with a username that already exists, ignoring case."""

    def __init__(self, username: str) -> None:
        super().__init__(f"username already taken: {username!r}")
        self.username = username


class UserNotFound(StorageError):
    """An operation named a user (by id or username) that does not exist."""

    def __init__(self, user: int | str) -> None:
        super().__init__(f"no such user: {user!r}")
        self.user = user


class SchemaTooNew(StorageError):
    """The database was migrated by a newer release; this code must not write to it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """One account. `username` keeps the case it was created with."""

    id: int
    username: str
    email: str
    password_hash: str = field(repr=False)  # kept out of logs and tracebacks
    credits_used: int
    credits_limit: int
    created_at: float  # Unix time, seconds

    @property
    def credits_remaining(self) -> int:
        """Credits still available; never negative, even after the limit was lowered."""
        return max(0, self.credits_limit - self.credits_used)


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A signed-in session. Only the SHA-256 of the client's token is ever stored."""

    token_hash: bytes = field(repr=False)
    user_id: int
    csrf_token: str = field(repr=False)
    created_at: float  # Unix time, seconds
    expires_at: float  # Unix time, seconds; refused from this instant on


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """A user's credit counter after a successful spend."""

    credits_used: int
    credits_limit: int

    @property
    def credits_remaining(self) -> int:
        """Credits still available."""
        return max(0, self.credits_limit - self.credits_used)


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveUsage:
    """A user's counter and the token hashes of the user's live sessions, read together."""

    usage: Usage
    session_hashes: frozenset[bytes] = field(repr=False)


class FailureScope(enum.Enum):
    """What a failed (or, via `claim_attempt`, an attempted) action is counted against."""

    USERNAME = "username"
    ADDRESS = "address"
    USERNAME_AT_ADDRESS = "username_at_address"  # key: username key, "@", address key
    SIGN_UP_ADDRESS = "sign_up_address"  # sign-ups from one client address


@dataclass(frozen=True, slots=True)
class AttemptCounter:
    """One count `claim_attempt` checks: at most `max_attempts` rows against (scope, key)."""

    scope: FailureScope
    key: str
    max_attempts: int

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts!r}")


class Storage(Protocol):
    """Accounts, sessions, sign-in failures and quota. All SQL lives behind this interface.

    Usernames compare ignoring ASCII case (usernames are ASCII by validation). Times are
    Unix seconds supplied by the caller, so tests can inject a clock.
    Implementations must be safe to call from many threads at once.
    """

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
        ...

    def get_user(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        ...

    def find_user(self, username: str) -> User | None:
        """The user with this username ignoring case, or None."""
        ...

    def list_users(self) -> list[User]:
        """Every user, ordered by id."""
        ...

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace a user's stored hash (rehash on new parameters). Raises `UserNotFound`."""
        ...

    def set_credits_limit(self, username: str, credits_limit: int) -> User:
        """Set the limit of the user named (ignoring case). Raises `UserNotFound`."""
        ...

    # Quota.
    def spend_credits(self, user_id: int, cost: int) -> Usage | None:
        """Atomically add `cost` to `credits_used` if it stays within the limit.

        Returns the new usage, or None when the quota would be exceeded.
        Raises `UserNotFound`, and `ValueError` unless 0 < cost <= MAX_CREDITS.
        """
        ...

    def spend_session_credits(self, token_hash: bytes, cost: int, now: float) -> Usage | None:
        """`spend_credits` for the user of a live session, in one atomic step.

        A live session has this token hash and `expires_at > now`. If there is one and
        `cost` fits its user's limit, adds `cost` to `credits_used` exactly as
        `spend_credits` does and returns the new usage. Otherwise changes nothing and
        returns None: no such session, an expired one, or the quota would be exceeded
        (`get_session_user` tells which). Raises `ValueError` unless 0 < cost <= MAX_CREDITS.
        """
        ...

    def get_live_usage(self, user_ids: Collection[int], now: float) -> dict[int, LiveUsage]:
        """The counter and live sessions of each of `user_ids`, in one read.

        Keyed by user id; a user that does not exist is absent. `session_hashes` holds
        the token hashes of the user's sessions with `expires_at > now`. One statement
        for any number of users (the live credits poll reads every watched user at
        once); an empty `user_ids` reads nothing.
        """
        ...

    # Sessions.
    def create_session(self, session: Session) -> None:
        """Store a new session. Raises `UserNotFound` if its user does not exist."""
        ...

    def get_session(self, token_hash: bytes) -> Session | None:
        """The session with this token hash, expired or not, or None."""
        ...

    def get_session_user(self, token_hash: bytes) -> tuple[Session, User] | None:
        """The session with this token hash, expired or not, and its user; or None.

        One read: the pair is as `get_session` then `get_user(session.user_id)` would
        return them with no write in between, so the user is never older than the
        session (a session's user always exists: deleting a user deletes its sessions).
        None exactly when `get_session` would return None.
        """
        ...

    def delete_session(self, token_hash: bytes) -> bool:
        """Delete one session; True if it existed."""
        ...

    def delete_user_sessions(self, user_id: int) -> int:
        """Delete every session of a user; returns how many."""
        ...

    def delete_expired_sessions(self, now: float) -> int:
        """Delete sessions with `expires_at <= now`; returns how many."""
        ...

    # Sign-in failures.
    def record_login_failure(self, scope: FailureScope, key: str, failed_at: float) -> None:
        """Remember one failed sign-in counted against `key` (a username or an address)."""
        ...

    def recent_login_failures(
        self, scope: FailureScope, key: str, since: float, limit: int
    ) -> list[float]:
        """Times of failures against `key` later than `since`, newest first, at most `limit`."""
        ...

    def clear_login_failures(self, scope: FailureScope, key: str) -> int:
        """Forget every failure against `key`; returns how many."""
        ...

    def delete_login_failures_before(self, before: float) -> int:
        """Forget failures at or before `before`; returns how many."""
        ...

    def claim_attempt(
        self, counters: Sequence[AttemptCounter], attempted_at: float, since: float
    ) -> int | None:
        """Record one attempt against every counter, or none if any counter is full.

        A counter is full when at least `counter.max_attempts` rows against its
        (scope, key) have a time later than `since` (rows from `record_login_failure`
        and from earlier claims count alike). If none is full, one row per counter is
        stored with time `attempted_at`, all tagged with a new attempt id, which is
        returned: a positive integer below 2**63, never returned before by this
        database (an id of a released attempt is not reused). If any is full, nothing
        is stored and the result is None.

        The check and the inserts are one atomic step with respect to every other
        `claim_attempt`, `release_attempt` and failure write on the same database,
        from any thread or process: N concurrent claims on a counter with
        `max_attempts` M and no earlier rows succeed exactly min(N, M) times.
        The rows are ordinary failure rows: `recent_login_failures`,
        `clear_login_failures` and `delete_login_failures_before` see and remove them.

        Raises:
            ValueError: if `counters` is empty.
        """
        ...

    def release_attempt(self, attempt_id: int) -> int:
        """Delete the rows of one claimed attempt (it succeeded, so it is not a failure).

        Returns how many rows were deleted: 0 if they were already removed (cleared,
        expired) or the id is unknown. Deletes nothing that another attempt stored.
        """
        ...

    def close(self) -> None:
        """Release connections. Later calls raise `StorageError`."""
        ...


def check_cost(cost: int) -> None:
    """Reject anything but an int in 1..MAX_CREDITS (bool too, though it is an int).

    Raises:
        ValueError: for any other value; a zero or negative cost would mint credits.
    """
    if isinstance(cost, bool) or not isinstance(cost, int) or not 0 < cost <= MAX_CREDITS:
        raise ValueError(f"cost must be an integer from 1 to {MAX_CREDITS}, got {cost!r}")


def check_credits_limit(credits_limit: int) -> None:
    """Reject anything but an int in 0..MAX_CREDITS.

    Raises:
        ValueError: for any other value.
    """
    if (
        isinstance(credits_limit, bool)
        or not isinstance(credits_limit, int)
        or not 0 <= credits_limit <= MAX_CREDITS
    ):
        raise ValueError(
            f"credit limit must be an integer from 0 to {MAX_CREDITS}, got {credits_limit!r}"
        )
