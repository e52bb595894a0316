"""Columns and row decoding shared by the SQL backends (no SQL dialect of its own)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from barehttp.storage.base import Session, User

USER_COLUMNS = "id, username, email, password_hash, credits_used, credits_limit, created_at"
SESSION_COLUMNS = "token_hash, user_id, csrf_token, created_at, expires_at"
# One statement for `get_session_user`: the session's columns, then its user's. The
# join is on the primary key of users and the sessions key is the token hash, so
# both are index lookups; the foreign key means a session always has its user.
SESSION_USER_QUERY = (
    "SELECT s.token_hash, s.user_id, s.csrf_token, s.created_at, s.expires_at,"
    " u.id, u.username, u.email, u.password_hash, u.credits_used, u.credits_limit,"
    " u.created_at FROM sessions AS s JOIN users AS u ON u.id = s.user_id"
    " WHERE s.token_hash = {placeholder}"
)
# One statement for `spend_session_credits`: `spend_credits`' conditional UPDATE, with
# the user found through a live session (parameters: cost, token hash, now, cost).
SESSION_SPEND = (
    "UPDATE users SET credits_used = credits_used + {placeholder}"
    " WHERE id = (SELECT user_id FROM sessions"
    " WHERE token_hash = {placeholder} AND expires_at > {placeholder})"
    " AND credits_used + {placeholder} <= credits_limit"
    " RETURNING credits_used, credits_limit"
)
_SESSION_WIDTH = 5


def user_from_row(row: Sequence[Any]) -> User:
    """A `User` from a row in `USER_COLUMNS` order."""
    return User(
        id=int(row[0]),
        username=str(row[1]),
        email=str(row[2]),
        password_hash=str(row[3]),
        credits_used=int(row[4]),
        credits_limit=int(row[5]),
        created_at=float(row[6]),
    )


def session_from_row(row: Sequence[Any]) -> Session:
    """A `Session` from a row in `SESSION_COLUMNS` order."""
    return Session(
        token_hash=bytes(row[0]),
        user_id=int(row[1]),
        csrf_token=str(row[2]),
        created_at=float(row[3]),
        expires_at=float(row[4]),
    )


def session_user_from_row(row: Sequence[Any]) -> tuple[Session, User]:
    """The (session, user) pair from a row of `SESSION_USER_QUERY`."""
    return session_from_row(row[:_SESSION_WIDTH]), user_from_row(row[_SESSION_WIDTH:])
