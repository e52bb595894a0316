"""One bounded memo for the hot paths that see the same inputs again and again.

A ``Memo`` is a dict with a bound on its entries and one eviction policy: when it
is full, it is emptied. Clients and applications repeat a small working set (the
same request lines, header sections and response fields), so emptying refills at
once with what is in use, and costs nothing per hit: no recency bookkeeping, as an
LRU would need, on the path that runs for every request. The bound is what makes
a memo safe to key on client bytes: a client that sends a new value each time can
only make it refill, never grow.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A dict of at most ``max_entries`` entries, emptied when full.

    ``get`` is the dict's own bound method, so a hit costs one dict lookup.
    Values are shared between callers: store immutable ones, or copy on use.
    """

    __slots__ = ("_entries", "get", "max_entries")

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: dict[K, V] = {}
        self.get = self._entries.get

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` (emptying the memo first if full); returns it."""
        entries = self._entries
        if len(entries) >= self.max_entries:
            entries.clear()
        entries[key] = value
        return value

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
