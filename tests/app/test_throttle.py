"""Sign-in lockout: 5 failures per username or per address within 60 s."""

from __future__ import annotations

from pathlib import Path

import pytest

from barehttp.app.throttle import LoginThrottle, address_key, username_key
from barehttp.storage.sqlite import SQLiteStorage
from tests.app.conftest import FakeClock

ADDRESS = "192.0.2.10"


@pytest.fixture
def throttle(storage: SQLiteStorage, clock: FakeClock) -> LoginThrottle:
    return LoginThrottle(storage, max_failures=5, window_s=60.0, clock=clock)


def fail(
    throttle: LoginThrottle, times: int, username: str = "alice", address: str = ADDRESS
) -> None:
    for _ in range(times):
        throttle.record_failure(username, address)


def test_four_failures_still_allowed(throttle: LoginThrottle) -> None:
    fail(throttle, 4)
    assert throttle.retry_after_s("alice", ADDRESS) == 0


def test_fifth_failure_locks_for_the_window(throttle: LoginThrottle) -> None:
    fail(throttle, 5)
    assert throttle.retry_after_s("alice", ADDRESS) == 60


def test_username_lock_applies_from_any_address(throttle: LoginThrottle) -> None:
    fail(throttle, 5, "alice", ADDRESS)
    assert throttle.retry_after_s("alice", "198.51.100.7") == 60
    assert throttle.retry_after_s("bob", "198.51.100.7") == 0


def test_username_lock_ignores_case(throttle: LoginThrottle) -> None:
    for name in ("alice", "Alice", "ALICE", "aLice", "alicE"):
        throttle.record_failure(name, f"198.51.100.{len(name) + ord(name[0])}")
    assert throttle.retry_after_s("ALIce", "203.0.113.1") == 60


def test_address_lock_applies_to_any_username(throttle: LoginThrottle) -> None:
    for name in ("u1", "u2", "u3", "u4", "u5"):
        throttle.record_failure(name, ADDRESS)
    assert throttle.retry_after_s("u6", ADDRESS) == 60
    assert throttle.retry_after_s("u6", "198.51.100.7") == 0


def test_lock_ends_when_window_passes(throttle: LoginThrottle, clock: FakeClock) -> None:
    fail(throttle, 5)
    clock.advance(20)
    assert throttle.retry_after_s("alice", ADDRESS) == 40
    clock.advance(39.5)
    assert throttle.retry_after_s("alice", ADDRESS) == 1  # rounded up, never 0 while locked
    clock.advance(0.5)
    assert throttle.retry_after_s("alice", ADDRESS) == 0


def test_retry_after_counts_from_oldest_of_the_last_five(
    throttle: LoginThrottle, clock: FakeClock
) -> None:
    fail(throttle, 1)  # t=0
    clock.advance(10)
    fail(throttle, 4)  # t=10: five in the window
    assert throttle.retry_after_s("alice", ADDRESS) == 50
    clock.advance(50)  # t=60: the first leaves the window, four remain
    assert throttle.retry_after_s("alice", ADDRESS) == 0


def test_failures_spread_beyond_window_never_lock(
    throttle: LoginThrottle, clock: FakeClock
) -> None:
    for _ in range(20):
        fail(throttle, 1)
        clock.advance(15)  # at most 4 failures inside any 60 s
        assert throttle.retry_after_s("alice", ADDRESS) == 0


def test_success_clears_username_but_not_address(throttle: LoginThrottle) -> None:
    fail(throttle, 5, "alice", ADDRESS)
    throttle.record_success("ALICE")
    assert throttle.retry_after_s("alice", "198.51.100.7") == 0
    assert throttle.retry_after_s("bob", ADDRESS) == 60


def test_old_failures_are_deleted(
    throttle: LoginThrottle, clock: FakeClock, storage: SQLiteStorage
) -> None:
    fail(throttle, 3)
    clock.advance(61)
    fail(throttle, 1)
    assert storage.delete_login_failures_before(clock.now) == 2  # only the newest pair left


def test_failures_are_shared_through_the_database(
    throttle: LoginThrottle, clock: FakeClock, db_path: Path
) -> None:
    other_worker = SQLiteStorage(db_path)
    other = LoginThrottle(other_worker, clock=clock)
    fail(other, 3)
    fail(throttle, 2)
    assert throttle.retry_after_s("alice", ADDRESS) == 60
    assert other.retry_after_s("alice", ADDRESS) == 60
    other_worker.close()


def test_limits_are_configurable(storage: SQLiteStorage, clock: FakeClock) -> None:
    strict = LoginThrottle(storage, max_failures=2, window_s=10.0, clock=clock)
    fail(strict, 2)
    assert strict.retry_after_s("alice", ADDRESS) == 10


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
    for host in range(5):
        throttle.record_failure(f"user{host}", f"2001:db8::{host + 1}")
    assert throttle.retry_after_s("other", "2001:db8::ffff") == 60
    assert throttle.retry_after_s("other", "2001:db8:0:1::1") == 0


def test_username_key_folds_case_and_bounds_length() -> None:
    assert username_key("AlIcE") == "alice"
    assert len(username_key("A" * 10_000)) == 64
