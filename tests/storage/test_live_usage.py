"""`Storage.get_live_usage` (the live credits poll's one read), against SQLite and PostgreSQL."""

from __future__ import annotations

from barehttp.storage.base import LiveUsage, Storage, Usage
from tests.storage.test_storage import add_user, make_session


def test_reads_every_users_counter_and_live_sessions_at_once(storage: Storage) -> None:
    ada = add_user(storage, "ada", credits_limit=10)
    bob = add_user(storage, "bob", credits_limit=20)
    idle = add_user(storage, "idle", credits_limit=5)
    storage.spend_credits(ada.id, 3)
    storage.spend_credits(bob.id, 7)
    laptop = make_session(ada.id, token=b"a" * 32, expires_at=2_000.0)
    phone = make_session(ada.id, token=b"b" * 32, expires_at=3_000.0)
    bobs = make_session(bob.id, token=b"c" * 32, expires_at=2_000.0)
    for session in (laptop, phone, bobs):
        storage.create_session(session)

    found = storage.get_live_usage([ada.id, bob.id, idle.id], now=1_500.0)
    assert found == {
        ada.id: LiveUsage(
            usage=Usage(credits_used=3, credits_limit=10),
            session_hashes=frozenset({laptop.token_hash, phone.token_hash}),
        ),
        bob.id: LiveUsage(
            usage=Usage(credits_used=7, credits_limit=20),
            session_hashes=frozenset({bobs.token_hash}),
        ),
        idle.id: LiveUsage(
            usage=Usage(credits_used=0, credits_limit=5), session_hashes=frozenset()
        ),
    }


def test_sessions_expire_at_their_instant_and_deleted_ones_are_gone(storage: Storage) -> None:
    user = add_user(storage)
    short = make_session(user.id, token=b"s" * 32, expires_at=2_000.0)
    long = make_session(user.id, token=b"l" * 32, expires_at=3_000.0)
    storage.create_session(short)
    storage.create_session(long)
    assert storage.get_live_usage([user.id], now=1_999.5)[user.id].session_hashes == {
        short.token_hash,
        long.token_hash,
    }
    # expires_at is the first instant a session is refused, as everywhere else.
    assert storage.get_live_usage([user.id], now=2_000.0)[user.id].session_hashes == {
        long.token_hash
    }
    storage.delete_session(long.token_hash)  # signed out (in any process)
    assert storage.get_live_usage([user.id], now=1_000.0)[user.id].session_hashes == {
        short.token_hash
    }
    storage.delete_user_sessions(user.id)
    assert storage.get_live_usage([user.id], now=1_000.0)[user.id].session_hashes == frozenset()


def test_unknown_users_are_absent_and_no_ids_read_nothing(storage: Storage) -> None:
    user = add_user(storage)
    assert storage.get_live_usage([], now=1_000.0) == {}
    assert set(storage.get_live_usage([user.id, user.id + 1, 999_999], now=1_000.0)) == {user.id}


def test_any_number_of_users_is_one_statement(storage: Storage) -> None:
    # More ids than SQLite's historic 999 host parameters and the 16-bit count
    # PostgreSQL's protocol allows: the ids travel as one parameter.
    users = [add_user(storage, f"user{number}") for number in range(3)]
    for user in users:
        storage.spend_credits(user.id, user.id % 7 + 1)
    ids = [user.id for user in users] + list(range(1_000_000, 1_070_000))
    found = storage.get_live_usage(ids, now=1_000.0)
    assert {user_id: live.usage.credits_used for user_id, live in found.items()} == {
        user.id: user.id % 7 + 1 for user in users
    }
