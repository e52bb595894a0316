"""Per-user credit quota: atomic spending against a limit."""

from __future__ import annotations

import logging

from barehttp.storage.base import Storage, Usage, UserNotFound, check_cost

logger = logging.getLogger("barehttp.app")


class QuotaExceeded(Exception):
    """A spend would pass the user's limit; nothing was spent. The message is safe to show."""

    def __init__(self, cost: int, credits_remaining: int) -> None:
        super().__init__(f"not enough credits: this costs {cost}, {credits_remaining} remaining")
        self.cost = cost
        self.credits_remaining = credits_remaining


class Quota:
    """Spends and reports credits; the storage makes each spend one atomic step."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def spend(self, user_id: int, cost: int = 1) -> Usage:
        """Spend `cost` credits of `user_id`, all or nothing.

        Raises:
            ValueError: unless `cost` is an int from 1 to MAX_CREDITS.
            QuotaExceeded: if fewer than `cost` credits remain.
            UserNotFound: if there is no such user.
        """
        check_cost(cost)  # before any I/O: a zero or negative cost would mint credits
        usage = self._storage.spend_credits(user_id, cost)
        if usage is None:
            user = self._storage.get_user(user_id)
            raise QuotaExceeded(cost, user.credits_remaining if user is not None else 0)
        return usage

    def usage(self, user_id: int) -> Usage:
        """The user's current counter. Raises `UserNotFound`."""
        user = self._storage.get_user(user_id)
        if user is None:
            raise UserNotFound(user_id)
        return Usage(credits_used=user.credits_used, credits_limit=user.credits_limit)
