"""Operator actions behind `barehttp users list|set-limit`."""

from __future__ import annotations

import logging

from barehttp.storage.base import Storage, User

logger = logging.getLogger("barehttp.app")


def list_users(storage: Storage) -> list[User]:
    """Every user, oldest first."""
    return storage.list_users()


def set_limit(storage: Storage, username: str, limit: int) -> User:
    """Set the credit limit of `username` (ignoring case); returns the updated user.

    A limit below what is already used is allowed: further spends are then refused.

    Raises:
        ValueError: unless `limit` is an int from 0 to MAX_CREDITS.
        UserNotFound: if there is no such user.
    """
    user = storage.set_credits_limit(username, limit)
    logger.info("credit limit of %r set to %d", user.username, user.credits_limit)
    return user
