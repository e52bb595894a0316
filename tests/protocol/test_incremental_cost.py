"""A head fed in many small pieces costs time linear in its size, not quadratic.

A client may send its head one byte per packet; if each feed rescanned the whole
buffer, a 30 KB head would cost seconds of CPU (under the GIL) per connection.
The rescans are counted, not timed.
"""

from __future__ import annotations

import re

import pytest

from barehttp.protocol import grammar
from barehttp.protocol.parser import RequestParser

HEAD = b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + b"a" * 20_000


class CountingPattern:
    """Wraps a compiled pattern and counts the bytes its searches cover."""

    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern = pattern
        self.scanned = 0

    def search(self, string: bytes | bytearray, pos: int = 0) -> re.Match[bytes] | None:
        self.scanned += len(string) - pos
        return self.pattern.search(string, pos)


def test_bare_lf_check_scans_each_byte_of_a_trickled_head_about_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = CountingPattern(grammar.BARE_LF)
    monkeypatch.setattr(grammar, "BARE_LF", counting)
    parser = RequestParser()
    for index in range(len(HEAD)):
        assert parser.feed(HEAD[index : index + 1]) == []
        assert parser.is_mid_request
    assert counting.scanned < 4 * len(HEAD)
