"""Session tokens: create, validate, revoke, purge; CSRF tokens checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass, field

from barehttp.app.clock import Clock, system_clock
from barehttp.storage.base import Session, Storage, Usage, User, check_cost

logger = logging.getLogger("barehttp.app")

TOKEN_BYTES = 32  # 256 bits: guessing is hopeless, so no rate limit on session lookups
CSRF_TOKEN_BYTES = 32
_TOKEN_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSession:
    """A session just created; `token` goes to the client and is never stored."""

    token: str = field(repr=False)  # 64 lowercase hex characters
    session: Session

    @property
    def csrf_token(self) -> str:
        """The CSRF token to embed in this session's forms."""
        return self.session.csrf_token


def hash_token(token: str) -> bytes | None:
    """SHA-256 of the token's bytes, or None if `token` is not 64 lowercase hex characters."""
    if not _TOKEN_HEX.fullmatch(token):
        return None
    return hashlib.sha256(bytes.fromhex(token)).digest()


def tokens_equal(expected: str, submitted: str) -> bool:
    """True if `submitted` is non-empty and equals `expected` (constant-time comparison)."""
    # "replace" so hostile input (lone surrogates) compares unequal instead of raising.
    return bool(submitted) and hmac.compare_digest(
        expected.encode("utf-8"), submitted.encode("utf-8", "replace")
    )


def check_csrf(session: Session, submitted: str) -> bool:
    """True if `submitted` equals the session's CSRF token (constant-time comparison)."""
    return tokens_equal(session.csrf_token, submitted)


class SessionManager:
    """Creates and checks sessions. The database is the only truth: there is no cache.

    A cache in one worker process could not learn that another process revoked a
    session, so every check is one indexed primary-key lookup instead.
    """

    def __init__(
        self, storage: Storage, *, lifetime_s: float = 43_200.0, clock: Clock = system_clock
    ) -> None:
        if lifetime_s <= 0:
            raise ValueError("session lifetime must be positive")
        self._storage = storage
        self.lifetime_s = lifetime_s
        self._clock = clock

    def create(self, user_id: int) -> NewSession:
        """Start a session for `user_id` with a fresh token and CSRF token."""
        now = self._clock()
        # Purging here keeps the table small without a background thread; the
        # expires_at index makes it cheap when there is nothing to delete.
        self._storage.delete_expired_sessions(now)
        token = secrets.token_bytes(TOKEN_BYTES)
        session = Session(
            token_hash=hashlib.sha256(token).digest(),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(CSRF_TOKEN_BYTES),
            created_at=now,
            expires_at=now + self.lifetime_s,
        )
        self._storage.create_session(session)
        return NewSession(token=token.hex(), session=session)

    def validate(self, token: str) -> Session | None:
        """The live session for `token`, or None. An expired one is deleted on sight."""
        token_hash = hash_token(token)
        if token_hash is None:
            return None
        session = self._storage.get_session(token_hash)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            self._storage.delete_session(token_hash)
            return None
        return session

    def validate_with_user(self, token: str) -> tuple[Session, User] | None:
        """`validate`, and the session's user read in the same database round trip."""
        token_hash = hash_token(token)
        if token_hash is None:
            return None
        found = self._storage.get_session_user(token_hash)
        if found is None:
            return None
        if found[0].expires_at <= self._clock():
            self._storage.delete_session(token_hash)
            return None
        return found

    def spend(self, token: str, cost: int) -> Usage | None:
        """Spend `cost` credits of the live session's user in one database step.

        None when nothing was spent: no live session for `token`, or too few credits
        left (`validate_with_user` tells which). Raises `ValueError` for a bad cost.
        """
        check_cost(cost)  # before any I/O, as in Quota.spend
        token_hash = hash_token(token)
        if token_hash is None:
            return None
        return self._storage.spend_session_credits(token_hash, cost, self._clock())

    def revoke(self, token: str) -> bool:
        """Delete the session for `token` (sign-out); True if there was one."""
        token_hash = hash_token(token)
        return token_hash is not None and self._storage.delete_session(token_hash)

    def revoke_all(self, user_id: int) -> int:
        """Delete every session of `user_id` (e.g. after a password change)."""
        return self._storage.delete_user_sessions(user_id)

    def purge_expired(self) -> int:
        """Delete every expired session; returns how many."""
        count = self._storage.delete_expired_sessions(self._clock())
        if count:
            logger.debug("purged %d expired sessions", count)
        return count
