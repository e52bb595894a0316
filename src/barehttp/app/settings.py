"""Every tunable of the accounts app, in one frozen dataclass."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from barehttp.app.passwords import ScryptParams


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSettings:
    """Named, configurable policy. Units are in the names; the status sent when hit beside."""

    default_credits_limit: int = 100  # credits a new account may spend
    # Absolute lifetime, not sliding: a stolen cookie dies within half a day.
    session_lifetime_s: float = 43_200.0
    # While the database is unreachable, routes needing it answer 503 with this Retry-After.
    storage_retry_after_s: int = 5
    # Sign-in lockout (app/throttle.py), each within failure_window_s; 429 + Retry-After.
    max_failed_sign_ins: int = 5  # per (username, client address)
    max_failed_sign_ins_per_username: int = 50  # from any address: needs >= 10 addresses
    max_failed_sign_ins_per_address: int = 20  # over any usernames: password spraying
    failure_window_s: float = 60.0
    # Sign-ups per client address within sign_up_window_s, successful or not; 429.
    max_sign_ups_per_address: int = 10
    sign_up_window_s: float = 600.0
    # Memory scrypt may hold at once; it sets how many hashes run in parallel
    # (64 MiB / 17 MiB per default hash = 3). 503 + Retry-After when all stay busy:
    password_hashing_memory_bytes: int = 67_108_864
    password_hashing_wait_s: float = 5.0  # ...for this long
    # /api/slow requests running at once (each holds a handler thread); 503 + Retry-After.
    max_slow_requests: int = 4
    # Strict-Transport-Security max-age on TLS responses (RFC 6797 §6.1.1): one year.
    hsts_max_age_s: int = 31_536_000
    # Open live-credit pages (WebSockets of /ws/credits); beyond, closed with 1013.
    max_live_pages_per_user: int = 16
    max_live_pages: int = 10_000  # in all, on this instance
    # While any page is open, each process reads every watched user's counter and
    # sessions (one query) this often: spends made by other processes or instances,
    # and sessions that ended, reach the pages within this time.
    live_credits_poll_s: float = 1.0
    scrypt: ScryptParams = field(default_factory=ScryptParams)  # lower only in tests

    def __post_init__(self) -> None:
        for name in (
            "max_failed_sign_ins",
            "max_failed_sign_ins_per_username",
            "max_failed_sign_ins_per_address",
            "max_sign_ups_per_address",
            "max_slow_requests",
            "password_hashing_memory_bytes",
            "hsts_max_age_s",
            "storage_retry_after_s",
            "max_live_pages_per_user",
            "max_live_pages",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        for name in (
            "session_lifetime_s",
            "failure_window_s",
            "sign_up_window_s",
            "password_hashing_wait_s",
            "live_credits_poll_s",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if self.password_hashing_memory_bytes < self.scrypt.maxmem_bytes:
            raise ValueError(
                "password_hashing_memory_bytes must hold one hash"
                f" ({self.scrypt.maxmem_bytes} bytes at these scrypt parameters)"
            )
