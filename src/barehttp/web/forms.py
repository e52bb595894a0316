"""application/x-www-form-urlencoded bodies, parsed strictly and with a field limit."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from urllib.parse import unquote_to_bytes

from barehttp.protocol.errors import BadRequest

DEFAULT_MAX_FIELDS = 1_000  # 400 beyond this: bounds the dict a body can make us build

# A "%" not followed by two hex digits. The WHATWG parser passes these through,
# but a client that sends them is broken and guessing its intent helps nobody.
_BAD_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_PAIR = re.compile(rb"[^&]+")


class MultiDict(Mapping[str, str]):
    """Read-only name → values mapping that keeps repeated names and their order.

    ``form["name"]`` and ``form.get("name")`` give the *first* value, so an
    attacker appending a duplicate field cannot override the one the page sent.
    """

    __slots__ = ("_items", "_values")

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = list(items or [])
        self._values: dict[str, list[str]] = {}
        for name, value in self._items:
            self._values.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> str:
        return self._values[name][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get_all(self, name: str) -> list[str]:
        return list(self._values.get(name, []))

    def multi_items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair in body order, repeats included."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"MultiDict({self._items!r})"


def parse_urlencoded(body: bytes, *, max_fields: int = DEFAULT_MAX_FIELDS) -> MultiDict:
    """Decode a urlencoded body (WHATWG URL §5.1) into a :class:`MultiDict`.

    Pairs are split on ``&`` only (``;`` was dropped as a separator because it
    enabled cache poisoning, CVE-2021-23336); empty pairs are skipped and a pair
    without ``=`` has an empty value.

    Raises:
        BadRequest: on malformed percent-encoding, invalid UTF-8, or more than
            ``max_fields`` fields.
    """
    items: list[tuple[str, str]] = []
    # finditer, not split: a body of a million "&" must not become a million-item list.
    for pair in _PAIR.finditer(body):
        if len(items) == max_fields:
            raise BadRequest(f"too many form fields (limit {max_fields})")
        name, _, value = pair.group().partition(b"=")
        items.append((_decode(name), _decode(value)))
    return MultiDict(items)


def _decode(encoded: bytes) -> str:
    if _BAD_PERCENT.search(encoded):
        raise BadRequest("malformed percent-encoding in form data")
    try:
        return unquote_to_bytes(encoded.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("form data is not valid UTF-8") from None
