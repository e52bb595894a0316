"""Sign-in lockout: counts per (username, address), per username and per address."""

from __future__ import annotations

from pathlib import Path

import pytest

from barehttp.app.throttle import LoginThrottle, address_key, username_key
from barehttp.storage.base import FailureScope
from barehttp.storage.sqlite import SQLiteStorage
from tests.app.conftest import FakeClock

ADDRESS = "192.0.2.10"


@pytest.fixture
def throttle(storage: SQLiteStorage, clock: FakeClock) -> LoginThrottle:
    return LoginThrottle(
        storage,
        max_failures=5,
        max_failures_per_username=8,
        max_failures_per_address=6,
        window_s=60.0,
        clock=clock,
    )


def fail(
    throttle: LoginThrottle, times: int, username: str = "alice", address: str = ADDRESS
) -> None:
    """`times` claimed attempts that fail (their rows stay)."""
    for _ in range(times):
        assert throttle.claim(username, address) is not None


def is_locked(throttle: LoginThrottle, username: str, address: str) -> bool:
    """Whether a claim is refused; a granted probe is taken back so it changes nothing."""
    attempt_id = throttle.claim(username, address)
    if attempt_id is None:
        return True
    throttle._storage.release_attempt(attempt_id)
    return False


def test_four_failures_still_allowed(throttle: LoginThrottle) -> None:
    fail(throttle, 4)
    assert not is_locked(throttle, "alice", ADDRESS)


def test_fifth_failure_locks_this_client_for_the_window(throttle: LoginThrottle) -> None:
    fail(throttle, 5)
    assert is_locked(throttle, "alice", ADDRESS)
    assert throttle.retry_after_s("alice", ADDRESS) == 60


def test_pair_lock_leaves_the_account_open_elsewhere(throttle: LoginThrottle) -> None:
    fail(throttle, 5, "alice", ADDRESS)
    assert not is_locked(throttle, "alice", "198.51.100.7")
    assert not is_locked(throttle, "bob", ADDRESS)


def test_username_bound_applies_from_any_address(throttle: LoginThrottle) -> None:
    for host in range(8):
        fail(throttle, 1, "alice", f"198.51.100.{host}")
    assert is_locked(throttle, "alice", "203.0.113.1")
    assert throttle.retry_after_s("alice", "203.0.113.1") == 60
    assert not is_locked(throttle, "bob", "203.0.113.1")


def test_username_count_ignores_case(throttle: LoginThrottle) -> None:
    for number, name in enumerate(("alice", "Alice", "ALICE", "aLice", "alicE")):
        fail(throttle, 1, name, ADDRESS if number < 2 else f"198.51.100.{number}")
    fail(throttle, 3, "ALIce", "203.0.113.1")
    assert is_locked(throttle, "alice", "203.0.113.2")  # 8 against the username


def test_address_bound_applies_to_any_username(throttle: LoginThrottle) -> None:
    for number in range(6):
        fail(throttle, 1, f"u{number}", ADDRESS)
    assert is_locked(throttle, "u9", ADDRESS)
    assert not is_locked(throttle, "u9", "198.51.100.7")


def test_refused_claim_stores_nothing(throttle: LoginThrottle, storage: SQLiteStorage) -> None:
    fail(throttle, 5)
    for _ in range(10):
        assert throttle.claim("alice", ADDRESS) is None
    # The username and address counts did not grow with the refusals.
    assert not is_locked(throttle, "alice", "198.51.100.7")
    assert not is_locked(throttle, "bob", ADDRESS)


def test_lock_ends_when_window_passes(throttle: LoginThrottle, clock: FakeClock) -> None:
    fail(throttle, 5)
    clock.advance(20)
    assert throttle.retry_after_s("alice", ADDRESS) == 40
    clock.advance(39.5)
    assert throttle.retry_after_s("alice", ADDRESS) == 1  # rounded up, never 0 while locked
    assert is_locked(throttle, "alice", ADDRESS)
    clock.advance(0.5)
    assert not is_locked(throttle, "alice", ADDRESS)


def test_retry_after_counts_from_oldest_of_the_last_five(
    throttle: LoginThrottle, clock: FakeClock
) -> None:
    fail(throttle, 1)  # t=0
    clock.advance(10)
    fail(throttle, 4)  # t=10: five in the window
    assert throttle.retry_after_s("alice", ADDRESS) == 50
    clock.advance(50)  # t=60: the first leaves the window, four remain
    assert not is_locked(throttle, "alice", ADDRESS)


def test_failures_spread_beyond_window_never_lock(
    throttle: LoginThrottle, clock: FakeClock
) -> None:
    for _ in range(20):
        fail(throttle, 1)
        clock.advance(15)  # at most 4 failures inside any 60 s
        assert not is_locked(throttle, "alice", ADDRESS)


def test_success_takes_back_the_attempt_and_clears_the_pair(
    throttle: LoginThrottle, storage: SQLiteStorage
) -> None:
    fail(throttle, 4, "alice", ADDRESS)
    fail(throttle, 3, "alice", "198.51.100.7")
    attempt_id = throttle.claim("alice", ADDRESS)
    assert attempt_id is not None
    throttle.record_success(attempt_id, "ALICE", ADDRESS)
    fail(throttle, 1, "alice", ADDRESS)  # the pair starts again from zero
    pair = storage.recent_login_failures(
        FailureScope.USERNAME_AT_ADDRESS, f"alice@{ADDRESS}", 0.0, 100
    )
    assert len(pair) == 1
    # The username count keeps every failure (4 + 3 + 1), not the successful attempt.
    assert len(storage.recent_login_failures(FailureScope.USERNAME, "alice", 0.0, 100)) == 8


def test_failures_are_shared_through_the_database(
    throttle: LoginThrottle, clock: FakeClock, db_path: Path
) -> None:
    other_worker = SQLiteStorage(db_path)
    other = LoginThrottle(other_worker, clock=clock)
    fail(other, 3)
    fail(throttle, 2)
    assert is_locked(throttle, "alice", ADDRESS)
    assert is_locked(other, "alice", ADDRESS)
    other_worker.close()


def test_limits_are_configurable(storage: SQLiteStorage, clock: FakeClock) -> None:
    strict = LoginThrottle(storage, max_failures=2, window_s=10.0, clock=clock)
    fail(strict, 2)
    assert strict.retry_after_s("alice", ADDRESS) == 10


def test_bounds_must_be_positive(storage: SQLiteStorage) -> None:
    with pytest.raises(ValueError):
        LoginThrottle(storage, max_failures_per_username=0)
    with pytest.raises(ValueError):
        LoginThrottle(storage, window_s=0.0)


def test_future_failures_do_not_lock_beyond_window(
    throttle: LoginThrottle, clock: FakeClock
) -> None:
    clock.advance(3_600)  # another worker's clock runs an hour ahead
    fail(throttle, 5)
    clock.advance(-3_600)
    assert throttle.retry_after_s("alice", ADDRESS) == 60


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("not-an-ip", "not-an-ip"),
        ("x" * 100, "x" * 64),
    ],
    ids=["ipv4", "ipv6", "ipv6-same-64", "ipv4-mapped", "unparsed", "long"],
)
def test_address_key(address: str, expected: str) -> None:
    assert address_key(address) == expected


def test_ipv6_addresses_in_one_64_share_a_count(throttle: LoginThrottle) -> None:
    for host in range(6):
        fail(throttle, 1, f"user{host}", f"2001:db8::{host + 1}")
    assert is_locked(throttle, "other", "2001:db8::ffff")
    assert not is_locked(throttle, "other", "2001:db8:0:1::1")


def test_username_key_folds_case_and_bounds_length() -> None:
    assert username_key("AlIcE") == "alice"
    assert len(username_key("A" * 10_000)) == 64
