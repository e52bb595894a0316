"""Sign-in lockout: too many failures for one username or one address within a window."""

from __future__ import annotations

import ipaddress
import logging
import math

from barehttp.app.clock import Clock, system_clock
from barehttp.storage.base import FailureScope, Storage

logger = logging.getLogger("barehttp.app")

# Keys are stored; a username submitted at sign-in is unvalidated and may be huge.
_MAX_KEY_CHARS = 64


class LoginThrottle:
    """Refuses sign-in after `max_failures` failures within `window_s` seconds.

    Counted separately per username (guessing one account's password) and per client
    address (trying one password on many accounts). Failures live in the database so
    every worker process sees them. Two attempts checked at the same instant may both
    pass, so the bound can be exceeded by the number of concurrent workers, no more.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        max_failures: int = 5,
        window_s: float = 60.0,
        clock: Clock = system_clock,
    ) -> None:
        if max_failures < 1 or window_s <= 0:
            raise ValueError("max_failures must be >= 1 and window_s > 0")
        self._storage = storage
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock

    def retry_after_s(self, username: str, address: str) -> int:
        """0 if a sign-in may be tried now, else whole seconds to wait (for Retry-After)."""
        now = self._clock()
        wait_s = 0.0
        for scope, key in self._keys(username, address):
            times = self._storage.recent_login_failures(
                scope, key, now - self.window_s, self.max_failures
            )
            if len(times) >= self.max_failures:
                # Newest first: once the oldest of these leaves the window, fewer than
                # max_failures remain. Capped in case another host's clock runs ahead.
                wait_s = max(wait_s, min(times[-1] + self.window_s - now, self.window_s))
        return max(1, math.ceil(wait_s)) if wait_s > 0 else 0

    def record_failure(self, username: str, address: str) -> None:
        """Count one failed sign-in against both the username and the address."""
        now = self._clock()
        for scope, key in self._keys(username, address):
            self._storage.record_login_failure(scope, key, now)
        # Old rows are never read again; dropping them here needs no background job.
        self._storage.delete_login_failures_before(now - self.window_s)

    def record_success(self, username: str) -> None:
        """Forget the username's failures; the address's stay, or one valid account
        would let an attacker reset the count for every other guess."""
        self._storage.clear_login_failures(FailureScope.USERNAME, username_key(username))

    def _keys(self, username: str, address: str) -> tuple[tuple[FailureScope, str], ...]:
        return (
            (FailureScope.USERNAME, username_key(username)),
            (FailureScope.ADDRESS, address_key(address)),
        )


def username_key(username: str) -> str:
    """Usernames are unique ignoring case, so "Alice" and "ALICE" share one count."""
    return username.lower()[:_MAX_KEY_CHARS]


def address_key(address: str) -> str:
    """The client address to count against; an IPv6 client counts as its whole /64.

    A single IPv6 host usually owns a /64 and could otherwise rotate through 2**64
    addresses, each with a fresh count.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:_MAX_KEY_CHARS]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
