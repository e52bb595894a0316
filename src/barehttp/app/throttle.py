"""Sign-in lockout and sign-up throttle: attempts counted in the database before any work.

Every sign-in is claimed (`Storage.claim_attempt`) before its password is checked: the
claim stores one row per count, atomically, or nothing when a count is full. So N
simultaneous guesses, in any number of threads or worker processes, evaluate at most
the bound; a successful attempt then takes its rows back, a failed one leaves them.
A claimed attempt whose check never finishes (a crash) counts as a failure.

Three counts, each over the last `window_s` seconds:

* per (username, address), `max_failures` (5): one client guessing one password;
* per username, from any address, `max_failures_per_username` (50): a botnet guessing it;
* per address, any username, `max_failures_per_address` (20): one client spraying
  one password over many accounts.

The victim's own count is the first: an attacker at another address can lock an
account for everyone only by failing 50 times a minute, from at least 10 addresses
(IPv6: /64 networks); from one address it costs the attacker only their own access.
"""

from __future__ import annotations

import ipaddress
import logging
import math

from barehttp.app.clock import Clock, system_clock
from barehttp.storage.base import AttemptCounter, FailureScope, Storage

logger = logging.getLogger("barehttp.app")

# Keys are stored; a username submitted at sign-in is unvalidated and may be huge.
_MAX_KEY_CHARS = 64


class AttemptThrottle:
    """Claims attempts against a set of counts; refuses (None) once any is full."""

    def __init__(self, storage: Storage, *, window_s: float, clock: Clock) -> None:
        if not math.isfinite(window_s) or window_s <= 0:
            raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
        self._storage = storage
        self.window_s = window_s
        self._clock = clock

    def claim(self, counters: tuple[AttemptCounter, ...]) -> int | None:
        """The new attempt's id, or None if one of `counters` is full (nothing stored)."""
        now = self._clock()
        return self._storage.claim_attempt(counters, attempted_at=now, since=now - self.window_s)

    def retry_after_s(self, counters: tuple[AttemptCounter, ...]) -> int:
        """Whole seconds until every count has room again (for Retry-After), at least 1."""
        now = self._clock()
        wait_s = 0.0
        for counter in counters:
            times = self._storage.recent_login_failures(
                counter.scope, counter.key, now - self.window_s, counter.max_attempts
            )
            if len(times) >= counter.max_attempts:
                # Newest first: once the oldest of these leaves the window, the count
                # has room. Capped in case another host's clock runs ahead.
                wait_s = max(wait_s, min(times[-1] + self.window_s - now, self.window_s))
        # At least 1: a refused claim whose rows expired since still gets a real wait.
        return max(1, math.ceil(wait_s))


class LoginThrottle:
    """The sign-in lockout (see the module docstring for the three counts)."""

    def __init__(
        self,
        storage: Storage,
        *,
        max_failures: int = 5,
        max_failures_per_username: int = 50,
        max_failures_per_address: int = 20,
        window_s: float = 60.0,
        clock: Clock = system_clock,
    ) -> None:
        if min(max_failures, max_failures_per_username, max_failures_per_address) < 1:
            raise ValueError("every max_failures bound must be >= 1")
        self._storage = storage
        self._attempts = AttemptThrottle(storage, window_s=window_s, clock=clock)
        self.max_failures = max_failures
        self.max_failures_per_username = max_failures_per_username
        self.max_failures_per_address = max_failures_per_address
        self.window_s = window_s

    def claim(self, username: str, address: str) -> int | None:
        """Record this attempt before its password is checked: its id, or None if locked."""
        return self._attempts.claim(self._counters(username, address))

    def retry_after_s(self, username: str, address: str) -> int:
        """Whole seconds to wait before a claim can succeed (for Retry-After), at least 1."""
        return self._attempts.retry_after_s(self._counters(username, address))

    def record_success(self, attempt_id: int, username: str, address: str) -> None:
        """The attempt was right: take it back, and forget this client's failures for this
        account. The per-username and per-address counts keep their failures, or one
        valid account would let an attacker reset the count for every other guess."""
        self._storage.release_attempt(attempt_id)
        pair = self._counters(username, address)[0]
        self._storage.clear_login_failures(pair.scope, pair.key)

    def _counters(self, username: str, address: str) -> tuple[AttemptCounter, ...]:
        user, client = username_key(username), address_key(address)
        return (
            AttemptCounter(FailureScope.USERNAME_AT_ADDRESS, f"{user}@{client}", self.max_failures),
            AttemptCounter(FailureScope.USERNAME, user, self.max_failures_per_username),
            AttemptCounter(FailureScope.ADDRESS, client, self.max_failures_per_address),
        )


class SignUpThrottle:
    """At most `max_sign_ups` sign-up attempts per client address within `window_s`.

    Counted before the password is hashed (scrypt is the expensive part), successful or
    not: creating accounts in bulk is what it limits, as well as the cost.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        max_sign_ups: int = 10,
        window_s: float = 600.0,
        clock: Clock = system_clock,
    ) -> None:
        if max_sign_ups < 1:
            raise ValueError("max_sign_ups must be >= 1")
        self._attempts = AttemptThrottle(storage, window_s=window_s, clock=clock)
        self.max_sign_ups = max_sign_ups
        self.window_s = window_s

    def claim(self, address: str) -> int | None:
        """Count one sign-up from `address`: its id, or None when the address is over."""
        return self._attempts.claim(self._counters(address))

    def retry_after_s(self, address: str) -> int:
        """Whole seconds to wait before `address` may sign up again, at least 1."""
        return self._attempts.retry_after_s(self._counters(address))

    def _counters(self, address: str) -> tuple[AttemptCounter, ...]:
        return (
            AttemptCounter(FailureScope.SIGN_UP_ADDRESS, address_key(address), self.max_sign_ups),
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
