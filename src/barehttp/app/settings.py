"""Every tunable of the accounts app, in one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field

from barehttp.app.passwords import ScryptParams


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSettings:
    """Named, configurable policy. Units are in the names."""

    default_credits_limit: int = 100  # credits a new account may spend
    # Absolute lifetime, not sliding: a stolen cookie dies within half a day.
    session_lifetime_s: float = 43_200.0
    # While the database is unreachable, routes needing it answer 503 with this Retry-After.
    storage_retry_after_s: int = 5
    max_failed_sign_ins: int = 5  # then sign-in is refused (429 with Retry-After)
    failure_window_s: float = 60.0  # ...for failures within this many seconds
    scrypt: ScryptParams = field(default_factory=ScryptParams)  # lower only in tests
