"""The Storage contract, run against every backend (SQLite and PostgreSQL) alike."""

from __future__ import annotations

import hashlib
import threading

import pytest

from barehttp.storage.base import (
    MAX_CREDITS,
    FailureScope,
    Session,
    Storage,
    StorageError,
    User,
    UsernameTaken,
    UserNotFound,
)
from tests.storage.conftest import Backend


def add_user(storage: Storage, username: str = "alice", credits_limit: int = 100) -> User:
    return storage.create_user(
        username=username,
        email=f"{username}@example.com",
        password_hash="scrypt$test",
        credits_limit=credits_limit,
        created_at=1_000.0,
    )


def make_session(user_id: int, token: bytes = b"t" * 32, expires_at: float = 2_000.0) -> Session:
    return Session(
        token_hash=hashlib.sha256(token).digest(),
        user_id=user_id,
        csrf_token="csrf",
        created_at=1_000.0,
        expires_at=expires_at,
    )


# Connection setup.


def test_implements_storage_protocol(storage: Storage) -> None:
    as_protocol: Storage = storage  # mypy --strict on the tests checks every signature
    assert as_protocol is storage


def test_usable_as_context_manager(backend: Backend) -> None:
    with backend.open() as opened:
        opened.list_users()
    with pytest.raises(StorageError, match="closed"):
        opened.list_users()


def test_foreign_keys_are_enforced(storage: Storage) -> None:
    with pytest.raises(UserNotFound):
        storage.create_session(make_session(user_id=999))


def test_closed_storage_refuses_calls(backend: Backend) -> None:
    closing = backend.open()
    closing.close()
    with pytest.raises(StorageError, match="closed"):
        closing.list_users()


def test_data_survives_close_and_reopen(backend: Backend) -> None:
    first = backend.open()
    user = add_user(first, credits_limit=10)
    first.spend_credits(user.id, 3)
    first.create_session(make_session(user.id))
    first.record_login_failure(FailureScope.ADDRESS, "192.0.2.1", 1_500.0)
    first.close()

    second = backend.open()
    reopened = second.find_user("alice")
    assert reopened is not None
    assert (reopened.id, reopened.credits_used, reopened.credits_limit) == (user.id, 3, 10)
    assert second.get_session(make_session(user.id).token_hash) == make_session(user.id)
    assert second.recent_login_failures(FailureScope.ADDRESS, "192.0.2.1", 0.0, 5) == [1_500.0]
    second.close()


# Accounts.


def test_create_user_returns_stored_values(storage: Storage) -> None:
    user = add_user(storage, "Alice", credits_limit=7)
    assert user.username == "Alice"
    assert (user.credits_used, user.credits_limit, user.created_at) == (0, 7, 1_000.0)
    assert storage.get_user(user.id) == user


def test_username_unique_ignoring_case(storage: Storage) -> None:
    add_user(storage, "Alice")
    with pytest.raises(UsernameTaken) as caught:
        add_user(storage, "aLICE")
    assert caught.value.username == "aLICE"


def test_find_user_ignores_case(storage: Storage) -> None:
    user = add_user(storage, "Alice")
    assert storage.find_user("ALICE") == user
    assert storage.find_user("bob") is None


def test_get_unknown_user_is_none(storage: Storage) -> None:
    assert storage.get_user(42) is None


def test_list_users_in_id_order(storage: Storage) -> None:
    names = ["carol", "alice", "bob"]
    for name in names:
        add_user(storage, name)
    assert [user.username for user in storage.list_users()] == names


def test_password_hash_not_in_repr(storage: Storage) -> None:
    assert "scrypt$test" not in repr(add_user(storage))


def test_set_password_hash(storage: Storage) -> None:
    user = add_user(storage)
    storage.set_password_hash(user.id, "scrypt$new")
    stored = storage.get_user(user.id)
    assert stored is not None and stored.password_hash == "scrypt$new"
    with pytest.raises(UserNotFound):
        storage.set_password_hash(999, "x")


def test_set_credits_limit_ignores_case(storage: Storage) -> None:
    add_user(storage, "Alice")
    assert storage.set_credits_limit("ALICE", 5).credits_limit == 5
    stored = storage.find_user("alice")
    assert stored is not None and stored.credits_limit == 5


def test_set_credits_limit_unknown_user(storage: Storage) -> None:
    with pytest.raises(UserNotFound):
        storage.set_credits_limit("nobody", 5)


@pytest.mark.parametrize("limit", [-1, MAX_CREDITS + 1, True, 2.0], ids=repr)
def test_set_credits_limit_rejects_bad_limit(storage: Storage, limit: int) -> None:
    add_user(storage)
    with pytest.raises(ValueError):
        storage.set_credits_limit("alice", limit)


# Quota.


def test_spend_credits_counts_up_to_limit(storage: Storage) -> None:
    user = add_user(storage, credits_limit=5)
    usage = storage.spend_credits(user.id, 3)
    assert usage is not None and (usage.credits_used, usage.credits_remaining) == (3, 2)
    usage = storage.spend_credits(user.id, 2)
    assert usage is not None and usage.credits_remaining == 0
    assert storage.spend_credits(user.id, 1) is None
    stored = storage.get_user(user.id)
    assert stored is not None and stored.credits_used == 5


def test_spend_over_limit_spends_nothing(storage: Storage) -> None:
    user = add_user(storage, credits_limit=5)
    assert storage.spend_credits(user.id, 6) is None
    stored = storage.get_user(user.id)
    assert stored is not None and stored.credits_used == 0


def test_spend_unknown_user(storage: Storage) -> None:
    with pytest.raises(UserNotFound):
        storage.spend_credits(999, 1)


@pytest.mark.parametrize("cost", [0, -1, 1.5, True, "1", MAX_CREDITS + 1], ids=repr)
def test_spend_rejects_bad_cost(storage: Storage, cost: int) -> None:
    user = add_user(storage)
    with pytest.raises(ValueError, match="cost"):
        storage.spend_credits(user.id, cost)
    stored = storage.get_user(user.id)
    assert stored is not None and stored.credits_used == 0


def test_spend_session_credits_spends_for_the_sessions_user(storage: Storage) -> None:
    alice, bob = add_user(storage, "alice", 10), add_user(storage, "bob", 10)
    storage.create_session(make_session(bob.id, expires_at=2_000.0))
    token_hash = make_session(bob.id).token_hash
    usage = storage.spend_session_credits(token_hash, 4, now=1_500.0)
    assert usage is not None and (usage.credits_used, usage.credits_limit) == (4, 10)
    assert storage.spend_session_credits(token_hash, 6, now=1_500.0) is not None
    assert storage.spend_session_credits(token_hash, 1, now=1_500.0) is None  # limit reached
    assert [(u.id, u.credits_used) for u in storage.list_users()] == [(alice.id, 0), (bob.id, 10)]


def test_spend_session_credits_needs_a_live_session(storage: Storage) -> None:
    user = add_user(storage, credits_limit=10)
    session = make_session(user.id, expires_at=2_000.0)
    assert storage.spend_session_credits(session.token_hash, 1, now=1_000.0) is None  # unknown
    storage.create_session(session)
    # Refused from `expires_at` on, as SessionManager.validate refuses it.
    assert storage.spend_session_credits(session.token_hash, 1, now=2_000.0) is None
    assert storage.spend_session_credits(session.token_hash, 1, now=1_999.5) is not None
    storage.delete_session(session.token_hash)
    assert storage.spend_session_credits(session.token_hash, 1, now=1_000.0) is None
    stored = storage.get_user(user.id)
    assert stored is not None and stored.credits_used == 1


@pytest.mark.parametrize("cost", [0, -1, MAX_CREDITS + 1, True])
def test_spend_session_credits_rejects_bad_cost(storage: Storage, cost: int) -> None:
    user = add_user(storage)
    storage.create_session(make_session(user.id))
    with pytest.raises(ValueError, match="cost must be"):
        storage.spend_session_credits(make_session(user.id).token_hash, cost, now=1_000.0)
    stored = storage.get_user(user.id)
    assert stored is not None and stored.credits_used == 0


def test_session_spends_from_two_handles_are_exact(backend: Backend) -> None:
    """Threads on two handles (two pools, or two SQLite connections sets) never overspend."""
    handles = [backend.open(), backend.open()]
    user = add_user(handles[0], credits_limit=60)
    session = make_session(user.id)
    handles[0].create_session(session)
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(12)

    def spend(storage: Storage) -> None:
        start.wait(timeout=30)
        for _ in range(10):
            spent = storage.spend_session_credits(session.token_hash, 1, now=1_000.0)
            with lock:
                results.append(spent is not None)

    threads = [threading.Thread(target=spend, args=(handles[i % 2],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = handles[1].get_user(user.id)
    for handle in handles:
        handle.close()
    assert len(results) == 120 and sum(results) == 60
    assert stored is not None and stored.credits_used == 60


# Sessions.


def test_session_round_trip(storage: Storage) -> None:
    user = add_user(storage)
    session = make_session(user.id)
    storage.create_session(session)
    assert storage.get_session(session.token_hash) == session


def test_get_unknown_session_is_none(storage: Storage) -> None:
    assert storage.get_session(b"\x00" * 32) is None


def test_get_session_user_reads_both_at_once(storage: Storage) -> None:
    user = add_user(storage)
    storage.spend_credits(user.id, 7)
    session = make_session(user.id, expires_at=500.0)  # expired sessions are returned too
    storage.create_session(session)
    assert storage.get_session_user(session.token_hash) == (
        storage.get_session(session.token_hash),
        storage.get_user(user.id),
    )
    found = storage.get_session_user(session.token_hash)
    assert found is not None and found[1].credits_used == 7 and found[0] == session


def test_get_session_user_picks_the_sessions_own_user(storage: Storage) -> None:
    alice, bob = add_user(storage, "alice"), add_user(storage, "bob")
    storage.create_session(make_session(alice.id, b"a" * 32))
    storage.create_session(make_session(bob.id, b"b" * 32))
    found = storage.get_session_user(make_session(bob.id, b"b" * 32).token_hash)
    assert found is not None and found[1].username == "bob" and found[0].user_id == bob.id


def test_get_session_user_unknown_or_deleted_is_none(storage: Storage) -> None:
    user = add_user(storage)
    session = make_session(user.id)
    assert storage.get_session_user(session.token_hash) is None
    storage.create_session(session)
    storage.delete_session(session.token_hash)
    assert storage.get_session_user(session.token_hash) is None


def test_delete_session(storage: Storage) -> None:
    user = add_user(storage)
    session = make_session(user.id)
    storage.create_session(session)
    assert storage.delete_session(session.token_hash) is True
    assert storage.get_session(session.token_hash) is None
    assert storage.delete_session(session.token_hash) is False


def test_delete_user_sessions(storage: Storage) -> None:
    alice, bob = add_user(storage, "alice"), add_user(storage, "bob")
    storage.create_session(make_session(alice.id, b"a" * 32))
    storage.create_session(make_session(alice.id, b"b" * 32))
    storage.create_session(make_session(bob.id, b"c" * 32))
    assert storage.delete_user_sessions(alice.id) == 2
    assert storage.get_session(make_session(bob.id, b"c" * 32).token_hash) is not None


def test_delete_expired_sessions_uses_expiry_inclusive(storage: Storage) -> None:
    user = add_user(storage)
    storage.create_session(make_session(user.id, b"a" * 32, expires_at=100.0))
    storage.create_session(make_session(user.id, b"b" * 32, expires_at=200.0))
    storage.create_session(make_session(user.id, b"c" * 32, expires_at=300.0))
    assert storage.delete_expired_sessions(200.0) == 2
    assert storage.get_session(make_session(user.id, b"c" * 32).token_hash) is not None
    assert storage.get_session(make_session(user.id, b"b" * 32).token_hash) is None


# Login failures.


def test_recent_login_failures_newest_first_limited(storage: Storage) -> None:
    for moment in (10.0, 30.0, 20.0, 40.0):
        storage.record_login_failure(FailureScope.USERNAME, "alice", moment)
    assert storage.recent_login_failures(FailureScope.USERNAME, "alice", 0.0, 3) == [
        40.0,
        30.0,
        20.0,
    ]


def test_recent_login_failures_since_is_exclusive(storage: Storage) -> None:
    for moment in (10.0, 20.0):
        storage.record_login_failure(FailureScope.USERNAME, "alice", moment)
    assert storage.recent_login_failures(FailureScope.USERNAME, "alice", 10.0, 5) == [20.0]


def test_login_failures_are_separated_by_scope_and_key(storage: Storage) -> None:
    storage.record_login_failure(FailureScope.USERNAME, "alice", 10.0)
    storage.record_login_failure(FailureScope.ADDRESS, "alice", 11.0)
    storage.record_login_failure(FailureScope.USERNAME, "bob", 12.0)
    assert storage.recent_login_failures(FailureScope.USERNAME, "alice", 0.0, 5) == [10.0]
    assert storage.recent_login_failures(FailureScope.ADDRESS, "alice", 0.0, 5) == [11.0]


def test_clear_login_failures(storage: Storage) -> None:
    storage.record_login_failure(FailureScope.USERNAME, "alice", 10.0)
    storage.record_login_failure(FailureScope.USERNAME, "alice", 11.0)
    storage.record_login_failure(FailureScope.ADDRESS, "alice", 12.0)
    assert storage.clear_login_failures(FailureScope.USERNAME, "alice") == 2
    assert storage.recent_login_failures(FailureScope.USERNAME, "alice", 0.0, 5) == []
    assert storage.recent_login_failures(FailureScope.ADDRESS, "alice", 0.0, 5) == [12.0]


def test_delete_login_failures_before(storage: Storage) -> None:
    for moment in (10.0, 20.0, 30.0):
        storage.record_login_failure(FailureScope.ADDRESS, "192.0.2.1", moment)
    assert storage.delete_login_failures_before(20.0) == 2
    assert storage.recent_login_failures(FailureScope.ADDRESS, "192.0.2.1", 0.0, 5) == [30.0]
