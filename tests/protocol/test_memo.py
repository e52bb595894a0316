"""Memo: bounded, emptied when full, and a hit is the remembered value."""

from __future__ import annotations

import pytest

from barehttp.protocol.memo import Memo


def test_remembers_until_full_then_empties() -> None:
    memo: Memo[int, str] = Memo(3)
    for key in range(3):
        assert memo.put(key, str(key)) == str(key)
    assert [memo.get(key) for key in range(3)] == ["0", "1", "2"]
    memo.put(3, "3")  # full: emptied, then the new entry kept
    assert len(memo) == 1
    assert memo.get(0) is None
    assert memo.get(3) == "3"


def test_never_holds_more_than_its_bound() -> None:
    memo: Memo[int, int] = Memo(10)
    for key in range(1_000):
        memo.put(key, key)
        assert len(memo) <= 10


def test_get_stays_valid_after_emptying() -> None:
    memo: Memo[str, int] = Memo(1)
    get = memo.get  # callers keep the bound method, as the writer does
    memo.put("a", 1)
    memo.put("b", 2)
    assert get("b") == 2
    memo.forget("b")
    assert get("b") is None
    memo.put("c", 3)
    memo.clear()
    assert get("c") is None


def test_refuses_a_bound_below_one() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        Memo(0)
