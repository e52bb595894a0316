"""Header field collection: ordered, case-insensitive, repeated names kept."""

from __future__ import annotations

from collections.abc import Iterator


class Headers:
    """Field lines in arrival order. Names are stored lower-cased (RFC 9110 §5.1)."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = items if items is not None else []

    def get(self, name: str, default: str | None = None) -> str | None:
        """The field value; repeated fields are joined with ", " (RFC 9110 §5.3)."""
        name = name.lower()
        found = [value for key, value in self._items if key == name]
        if not found:
            return default
        return found[0] if len(found) == 1 else ", ".join(found)

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self._items if key == name]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def append(self, name: str, value: str) -> None:
        self._items.append((name.lower(), value))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        name = name.lower()
        return any(key == name for key, _ in self._items)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
