"""Quota: all-or-nothing spends, exact under 200 concurrent threads."""

from __future__ import annotations

import threading

import pytest

from barehttp.app.quota import Quota, QuotaExceeded
from barehttp.storage.base import MAX_CREDITS, User, UserNotFound
from barehttp.storage.sqlite import SQLiteStorage


def add_user(storage: SQLiteStorage, credits_limit: int) -> User:
    return storage.create_user(
        username="alice",
        email="a@example.com",
        password_hash="h",
        credits_limit=credits_limit,
        created_at=0,
    )


def test_spend_returns_new_usage(storage: SQLiteStorage) -> None:
    user = add_user(storage, 10)
    usage = Quota(storage).spend(user.id, 3)
    assert (usage.credits_used, usage.credits_limit, usage.credits_remaining) == (3, 10, 7)
    assert Quota(storage).usage(user.id) == usage


def test_spend_beyond_limit_raises_and_spends_nothing(storage: SQLiteStorage) -> None:
    user = add_user(storage, 10)
    quota = Quota(storage)
    quota.spend(user.id, 8)
    with pytest.raises(QuotaExceeded) as caught:
        quota.spend(user.id, 3)
    assert (caught.value.cost, caught.value.credits_remaining) == (3, 2)
    assert quota.usage(user.id).credits_used == 8
    quota.spend(user.id, 2)  # exactly reaching the limit is allowed
    assert quota.usage(user.id).credits_remaining == 0


@pytest.mark.parametrize(
    "cost",
    [0, -5, 1.0, True, None, "1", MAX_CREDITS + 1],
    ids=["zero", "negative", "float", "bool", "none", "string", "too-large"],
)
def test_rejects_cost_that_is_not_a_positive_integer(storage: SQLiteStorage, cost: int) -> None:
    user = add_user(storage, 10)
    with pytest.raises(ValueError):
        Quota(storage).spend(user.id, cost)
    assert Quota(storage).usage(user.id).credits_used == 0


def test_unknown_user(storage: SQLiteStorage) -> None:
    with pytest.raises(UserNotFound):
        Quota(storage).spend(12345, 1)
    with pytest.raises(UserNotFound):
        Quota(storage).usage(12345)


def test_200_threads_spend_exactly_the_remaining_50(storage: SQLiteStorage) -> None:
    user = add_user(storage, 100)
    quota = Quota(storage)
    quota.spend(user.id, 50)  # 50 remain
    start = threading.Barrier(200)
    outcomes: list[str] = []
    lock = threading.Lock()

    def spend_one() -> None:
        start.wait()
        try:
            quota.spend(user.id, 1)
            outcome = "spent"
        except QuotaExceeded:
            outcome = "refused"
        except Exception as error:  # any storage error fails the test below
            outcome = repr(error)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=spend_one) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(set(outcomes)) == ["refused", "spent"]
    assert outcomes.count("spent") == 50
    assert outcomes.count("refused") == 150
    assert quota.usage(user.id).credits_used == 100
