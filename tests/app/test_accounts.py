"""Sign-up, sign-in, sign-out: validation, hashing, sessions, lockout, generic failure."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from barehttp.app.accounts import (
    UNKNOWN_USER,
    WRONG_PASSWORD,
    Accounts,
    SignUpRejected,
    TooManyAttempts,
    TooManySignUps,
    WrongCredentials,
    make_accounts,
)
from barehttp.app.passwords import ScryptParams
from barehttp.app.settings import AccountSettings
from barehttp.app.validation import EMAIL, PASSWORD, USERNAME
from barehttp.storage.base import User
from barehttp.storage.sqlite import SQLiteStorage
from tests.app.conftest import FakeClock

PASSWORD_OK = "s3cret!pw"
ADDRESS = "192.0.2.10"


@pytest.fixture
def alice(accounts: Accounts) -> User:
    return accounts.sign_up("Alice", "alice@example.com", PASSWORD_OK, ADDRESS)


@pytest.fixture
def scrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real: Callable[..., bytes] = hashlib.scrypt

    def counting(password: bytes, **kwargs: Any) -> bytes:
        calls.append(password)
        return real(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    return calls


# Sign-up.


def test_sign_up_stores_user_with_default_limit_and_hash(
    accounts: Accounts, alice: User, storage: SQLiteStorage
) -> None:
    stored = storage.find_user("alice")
    assert stored == alice
    assert (alice.username, alice.email, alice.credits_used, alice.credits_limit) == (
        "Alice",
        "alice@example.com",
        0,
        100,
    )
    assert alice.password_hash.startswith("scrypt$")
    assert PASSWORD_OK not in alice.password_hash
    assert accounts.hasher.verify_password(PASSWORD_OK, alice.password_hash)


def test_default_limit_is_configurable(storage: SQLiteStorage, clock: FakeClock) -> None:
    settings = AccountSettings(scrypt=ScryptParams(n=2, r=1, p=1), default_credits_limit=7)
    user = make_accounts(storage, settings, clock=clock).sign_up(
        "bob", "b@example.com", "pw!12345", ADDRESS
    )
    assert user.credits_limit == 7


def test_sign_up_strips_surrounding_spaces(accounts: Accounts) -> None:
    user = accounts.sign_up("  bob ", " bob@example.com ", PASSWORD_OK, ADDRESS)
    assert (user.username, user.email) == ("bob", "bob@example.com")


def test_sign_up_reports_every_broken_field(accounts: Accounts, storage: SQLiteStorage) -> None:
    with pytest.raises(SignUpRejected) as caught:
        accounts.sign_up("a", "not-an-email", "short", ADDRESS)
    errors = caught.value.validation.errors
    assert set(errors) == {USERNAME, EMAIL, PASSWORD}
    assert storage.list_users() == []


def test_sign_up_taken_username_ignoring_case(accounts: Accounts, alice: User) -> None:
    with pytest.raises(SignUpRejected) as caught:
        accounts.sign_up("ALICE", "other@example.com", PASSWORD_OK, ADDRESS)
    assert caught.value.validation.messages(USERNAME) == ("That username is already taken.",)
    assert caught.value.validation.messages(EMAIL) == ()


# Sign-in.


def test_sign_in_gives_session_for_user(accounts: Accounts, alice: User) -> None:
    signed_in = accounts.sign_in("alice", PASSWORD_OK, ADDRESS)
    assert signed_in.user.id == alice.id
    current = accounts.current_user(signed_in.token)
    assert current is not None
    assert current.user.id == alice.id
    assert current.session.csrf_token == signed_in.csrf_token


def test_sign_in_gives_new_token_each_time(accounts: Accounts, alice: User) -> None:
    first = accounts.sign_in("alice", PASSWORD_OK, ADDRESS)
    second = accounts.sign_in("ALICE", PASSWORD_OK, ADDRESS)
    assert first.token != second.token
    assert first.csrf_token != second.csrf_token


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("alice", "wrong!pw1", "wrong password"),
        ("nobody", PASSWORD_OK, "no account has this username"),
        ("", "", "no account has this username"),
        ("alice", "", "wrong password"),
    ],
    ids=["wrong-password", "unknown-user", "empty", "empty-password"],
)
def test_sign_in_failure_says_which_part_was_wrong(
    accounts: Accounts, alice: User, username: str, password: str, message: str
) -> None:
    # Usernames are public (sign-up must say a name is taken): one policy for both forms.
    with pytest.raises(WrongCredentials) as caught:
        accounts.sign_in(username, password, ADDRESS)
    assert str(caught.value) == message
    assert message in (UNKNOWN_USER, WRONG_PASSWORD)


@pytest.mark.parametrize("username", ["alice", "nobody"], ids=["known", "unknown"])
def test_sign_in_hashes_once_known_or_not(
    accounts: Accounts, alice: User, scrypt_calls: list[bytes], username: str
) -> None:
    with pytest.raises(WrongCredentials):
        accounts.sign_in(username, "wrong!pw1", ADDRESS)
    assert scrypt_calls == [b"wrong!pw1"]


def test_unknown_user_takes_as_long_as_known(db_path: Path, clock: FakeClock) -> None:
    storage = SQLiteStorage(db_path)
    accounts = make_accounts(storage, AccountSettings(max_failed_sign_ins=100), clock=clock)
    accounts.sign_up("alice", "a@example.com", PASSWORD_OK, ADDRESS)  # default, full-cost scrypt

    def median_s(username: str) -> float:
        durations = []
        for _ in range(5):
            started = time.perf_counter()
            with pytest.raises(WrongCredentials):
                accounts.sign_in(username, "wrong!pw1", ADDRESS)
            durations.append(time.perf_counter() - started)
        return statistics.median(durations)

    known, unknown = median_s("alice"), median_s("nobody")
    storage.close()
    # Loose bounds: a skipped hash would be >100x faster, scheduling noise is not.
    assert 1 / 3 < unknown / known < 3


def test_sign_out_ends_session(accounts: Accounts, alice: User) -> None:
    signed_in = accounts.sign_in("alice", PASSWORD_OK, ADDRESS)
    assert accounts.sign_out(signed_in.token) is True
    assert accounts.current_user(signed_in.token) is None
    assert accounts.sign_out(signed_in.token) is False


def test_current_user_refuses_expired_session(
    accounts: Accounts, alice: User, clock: FakeClock
) -> None:
    signed_in = accounts.sign_in("alice", PASSWORD_OK, ADDRESS)
    clock.advance(accounts.sessions.lifetime_s)
    assert accounts.current_user(signed_in.token) is None


def test_current_user_refuses_garbage(accounts: Accounts) -> None:
    assert accounts.current_user("not a token") is None


# Lockout.


def test_five_failures_lock_even_the_right_password(
    accounts: Accounts, alice: User, scrypt_calls: list[bytes]
) -> None:
    for _ in range(5):
        with pytest.raises(WrongCredentials):
            accounts.sign_in("alice", "wrong!pw1", ADDRESS)
    scrypt_calls.clear()
    with pytest.raises(TooManyAttempts) as caught:
        accounts.sign_in("alice", PASSWORD_OK, ADDRESS)
    assert caught.value.retry_after_s == 60
    assert "60" in str(caught.value)
    assert scrypt_calls == []  # refused before any hashing: lockout is cheap


def test_one_attackers_failures_do_not_lock_the_victim_elsewhere(
    accounts: Accounts, alice: User
) -> None:
    for _ in range(5):
        with pytest.raises(WrongCredentials):
            accounts.sign_in("alice", "wrong!pw1", ADDRESS)
    assert accounts.sign_in("alice", PASSWORD_OK, "198.51.100.7").user.id == alice.id


def test_many_addresses_lock_the_username_everywhere(
    accounts: Accounts, alice: User, settings: AccountSettings
) -> None:
    for attempt in range(settings.max_failed_sign_ins_per_username):
        with pytest.raises(WrongCredentials):
            accounts.sign_in("alice", "wrong!pw1", f"198.51.{attempt // 4}.{attempt}")
    with pytest.raises(TooManyAttempts):
        accounts.sign_in("alice", PASSWORD_OK, "203.0.113.1")


def test_lockout_ends_after_window(accounts: Accounts, alice: User, clock: FakeClock) -> None:
    for _ in range(5):
        with pytest.raises(WrongCredentials):
            accounts.sign_in("alice", "wrong!pw1", ADDRESS)
    clock.advance(60)
    assert accounts.sign_in("alice", PASSWORD_OK, ADDRESS).user.id == alice.id


def test_failures_against_unknown_users_lock_the_address(
    accounts: Accounts, settings: AccountSettings
) -> None:
    for number in range(settings.max_failed_sign_ins_per_address):
        with pytest.raises(WrongCredentials):
            accounts.sign_in(f"nobody{number}", "wrong!pw1", ADDRESS)
    with pytest.raises(TooManyAttempts):
        accounts.sign_in("someone", "wrong!pw1", ADDRESS)


def test_success_resets_this_clients_failures(accounts: Accounts, alice: User) -> None:
    for _ in range(4):
        with pytest.raises(WrongCredentials):
            accounts.sign_in("alice", "wrong!pw1", ADDRESS)
    accounts.sign_in("alice", PASSWORD_OK, ADDRESS)
    for _ in range(4):
        with pytest.raises(WrongCredentials):
            accounts.sign_in("alice", "wrong!pw1", ADDRESS)
    assert accounts.sign_in("alice", PASSWORD_OK, ADDRESS).user.id == alice.id


def test_successes_are_not_counted_as_failures(accounts: Accounts, alice: User) -> None:
    for _ in range(12):
        assert accounts.sign_in("alice", PASSWORD_OK, ADDRESS).user.id == alice.id


# Sign-up throttle.


def test_sign_ups_from_one_address_are_throttled(
    accounts: Accounts, settings: AccountSettings, scrypt_calls: list[bytes]
) -> None:
    for number in range(settings.max_sign_ups_per_address):
        accounts.sign_up(f"user{number}", "u@example.com", PASSWORD_OK, ADDRESS)
    scrypt_calls.clear()
    with pytest.raises(TooManySignUps) as caught:
        accounts.sign_up("onemore", "u@example.com", PASSWORD_OK, ADDRESS)
    assert caught.value.retry_after_s == int(settings.sign_up_window_s)
    assert scrypt_calls == []  # refused before hashing
    accounts.sign_up("elsewhere", "u@example.com", PASSWORD_OK, "198.51.100.7")


def test_sign_up_throttle_ends_after_its_window(
    accounts: Accounts, settings: AccountSettings, clock: FakeClock
) -> None:
    for number in range(settings.max_sign_ups_per_address):
        accounts.sign_up(f"user{number}", "u@example.com", PASSWORD_OK, ADDRESS)
    clock.advance(settings.sign_up_window_s)
    assert accounts.sign_up("later", "u@example.com", PASSWORD_OK, ADDRESS).username == "later"


def test_sign_in_failures_do_not_expire_sign_up_counts(
    accounts: Accounts, settings: AccountSettings, clock: FakeClock
) -> None:
    for number in range(settings.max_sign_ups_per_address):
        accounts.sign_up(f"user{number}", "u@example.com", PASSWORD_OK, ADDRESS)
    clock.advance(settings.failure_window_s * 2)  # past the sign-in window only
    with pytest.raises(WrongCredentials):
        accounts.sign_in("user0", "wrong!pw1", ADDRESS)  # cleans up expired rows
    with pytest.raises(TooManySignUps):
        accounts.sign_up("onemore", "u@example.com", PASSWORD_OK, ADDRESS)


def test_taken_username_costs_no_hash(
    accounts: Accounts, alice: User, scrypt_calls: list[bytes]
) -> None:
    scrypt_calls.clear()
    with pytest.raises(SignUpRejected):
        accounts.sign_up("ALICE", "other@example.com", PASSWORD_OK, "198.51.100.7")
    assert scrypt_calls == []


# Rehash.


def test_sign_in_upgrades_hash_made_with_old_parameters(
    storage: SQLiteStorage, clock: FakeClock
) -> None:
    old = make_accounts(storage, AccountSettings(scrypt=ScryptParams(n=2, r=1, p=1)), clock=clock)
    old.sign_up("alice", "a@example.com", PASSWORD_OK, ADDRESS)
    new = make_accounts(storage, AccountSettings(scrypt=ScryptParams(n=4, r=1, p=1)), clock=clock)
    new.sign_in("alice", PASSWORD_OK, ADDRESS)
    stored = storage.find_user("alice")
    assert stored is not None and stored.password_hash.startswith("scrypt$n=4,r=1,p=1$")
    assert new.sign_in("alice", PASSWORD_OK, ADDRESS).user.id == stored.id
