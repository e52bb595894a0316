"""A head, chunk line or trailer line fed in small pieces costs linear time, not quadratic.

A client may send its head one byte per packet; if each feed rescanned the whole
buffer, a 30 KB head would cost seconds of CPU (under the GIL) per connection.
The rescans are counted, not timed.
"""

from __future__ import annotations

import re

import pytest

from barehttp.protocol import grammar
from barehttp.protocol.events import EndOfMessage, Event
from barehttp.protocol.limits import Limits
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


class CountingBuffer(bytearray):
    """The parser's buffer, counting the bytes its ``find`` and ``strip`` calls cover."""

    scanned = 0

    def find(self, sub: object, start: object = None, *rest: object) -> int:  # type: ignore[override]
        begin = start if isinstance(start, int) else 0
        found = super().find(sub, start, *rest)  # type: ignore[arg-type]
        CountingBuffer.scanned += (len(self) if found == -1 else found + 1) - begin
        return found

    def strip(self, chars: object = None) -> bytearray:  # type: ignore[override]
        CountingBuffer.scanned += len(self)
        return super().strip(chars)  # type: ignore[arg-type]


CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
LONG = 60_000
TRICKLED_CHUNK_LINES = [
    pytest.param(b"5;" + b"a" * LONG + b"\r\nhello\r\n0\r\n\r\n", id="chunk-size-line"),
    pytest.param(b"0\r\nX-Long: " + b"a" * LONG + b"\r\n\r\n", id="trailer-line"),
]


@pytest.mark.parametrize("body", TRICKLED_CHUNK_LINES)
def test_chunk_and_trailer_lines_trickled_cost_linear_time(body: bytes) -> None:
    # Limits raised so that the long line is legal: the cost must not depend on them.
    parser = RequestParser(Limits(max_chunk_line_bytes=2 * LONG, max_trailer_bytes=2 * LONG))
    assert len(parser.feed(CHUNKED_HEAD)) == 1
    parser._buffer = CountingBuffer(parser._buffer)
    CountingBuffer.scanned = 0
    events: list[Event] = []
    for index in range(len(body)):
        events += parser.feed(body[index : index + 1])
        assert parser.is_mid_request or index == len(body) - 1
    assert isinstance(events[-1], EndOfMessage)
    assert CountingBuffer.scanned < 4 * len(body)


def test_is_mid_request_does_not_copy_the_buffer() -> None:
    parser = RequestParser()
    parser._buffer = CountingBuffer()
    asked = 0  # bytes covered while asking, not while feeding
    for index in range(len(HEAD)):
        parser.feed(HEAD[index : index + 1])
        CountingBuffer.scanned = 0
        assert parser.is_mid_request
        asked += CountingBuffer.scanned
    assert asked < len(HEAD)
