"""Admin actions for the CLI: list users, set a limit by username."""

from __future__ import annotations

import pytest

from barehttp.app.admin import list_users, set_limit
from barehttp.app.quota import Quota, QuotaExceeded
from barehttp.storage.base import UserNotFound
from barehttp.storage.sqlite import SQLiteStorage


def add_user(storage: SQLiteStorage, username: str) -> None:
    storage.create_user(
        username=username, email="x@example.com", password_hash="h", credits_limit=100, created_at=0
    )


def test_list_users_oldest_first(storage: SQLiteStorage) -> None:
    for name in ("carol", "Alice", "bob"):
        add_user(storage, name)
    assert [user.username for user in list_users(storage)] == ["carol", "Alice", "bob"]


def test_list_users_empty(storage: SQLiteStorage) -> None:
    assert list_users(storage) == []


def test_set_limit_by_username_ignoring_case(storage: SQLiteStorage) -> None:
    add_user(storage, "Alice")
    updated = set_limit(storage, "aLiCe", 5)
    assert (updated.username, updated.credits_limit) == ("Alice", 5)
    assert [user.credits_limit for user in list_users(storage)] == [5]


def test_set_limit_unknown_user(storage: SQLiteStorage) -> None:
    with pytest.raises(UserNotFound):
        set_limit(storage, "nobody", 5)


@pytest.mark.parametrize("limit", [-1, 1.5, True], ids=["negative", "float", "bool"])
def test_set_limit_rejects_bad_limit(storage: SQLiteStorage, limit: int) -> None:
    add_user(storage, "alice")
    with pytest.raises(ValueError):
        set_limit(storage, "alice", limit)


def test_lowered_limit_stops_spending(storage: SQLiteStorage) -> None:
    add_user(storage, "alice")
    user = list_users(storage)[0]
    Quota(storage).spend(user.id, 10)
    set_limit(storage, "alice", 5)
    with pytest.raises(QuotaExceeded) as caught:
        Quota(storage).spend(user.id, 1)
    assert caught.value.credits_remaining == 0
    set_limit(storage, "alice", 11)
    assert Quota(storage).spend(user.id, 1).credits_remaining == 0
