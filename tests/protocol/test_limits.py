"""Size limits, checked as bytes arrive so a client cannot hold memory by never finishing."""

from __future__ import annotations

import pytest

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.events import BodyData, RequestHead
from barehttp.protocol.limits import Limits
from barehttp.protocol.parser import RequestParser
from tests.protocol.helpers import bytewise, parse_error, parse_one, request

LIMITS = Limits(
    max_request_line_bytes=64,
    max_header_bytes=128,
    max_header_count=4,
    max_body_bytes=16,
    max_chunk_line_bytes=32,
    max_trailer_bytes=32,
)
HOST_LINE = "Host: example.com"  # 17 bytes


def line_of(length: int) -> str:
    """A GET request line exactly ``length`` bytes long."""
    return "GET /" + "a" * (length - len("GET / HTTP/1.1")) + " HTTP/1.1"


def filler_field(section_bytes: int) -> str:
    """A field line that makes Host plus it exactly ``section_bytes`` long (CRLF between)."""
    return "X: " + "f" * (section_bytes - len(HOST_LINE) - 2 - len("X: "))


def chunked(body: bytes) -> bytes:
    return request("POST / HTTP/1.1", "Transfer-Encoding: chunked", body=body)


# (request bytes at the limit, bytes one over it, the same cut before its terminator, status)
LIMIT_CASES = [
    pytest.param(
        request(line_of(64)),
        request(line_of(65)),
        line_of(65).encode(),
        414,
        id="request-line",
    ),
    pytest.param(
        request("GET / HTTP/1.1", filler_field(128)),
        request("GET / HTTP/1.1", filler_field(129)),
        request("GET / HTTP/1.1", filler_field(140))[:-4],
        431,
        id="header-section",
    ),
    pytest.param(
        request("GET / HTTP/1.1", "A: 1", "B: 2", "C: 3"),
        request("GET / HTTP/1.1", "A: 1", "B: 2", "C: 3", "D: 4"),
        None,
        431,
        id="header-count",
    ),
    pytest.param(
        request("POST / HTTP/1.1", "Content-Length: 16", body=b"x" * 16),
        request("POST / HTTP/1.1", "Content-Length: 17", body=b"x" * 17),
        request("POST / HTTP/1.1", "Content-Length: 17"),  # 413 before any body byte
        413,
        id="content-length",
    ),
    pytest.param(
        chunked(b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"),
        chunked(b"8\r\n12345678\r\n9\r\n123456789\r\n0\r\n\r\n"),
        chunked(b"8\r\n12345678\r\n9\r\n"),  # 413 on the size line, before its data
        413,
        id="chunked-body",
    ),
    pytest.param(
        chunked(b"0\r\nX: " + b"t" * 27 + b"\r\n\r\n"),
        chunked(b"0\r\nX: " + b"t" * 28 + b"\r\n\r\n"),
        chunked(b"0\r\nX: " + b"t" * 40),
        431,
        id="trailer-section",
    ),
    pytest.param(
        chunked(b"0\r\nA: 1\r\nB: 2\r\nC: " + b"t" * 15 + b"\r\n\r\n"),
        chunked(b"0\r\nA: 1\r\nB: 2\r\nC: " + b"t" * 16 + b"\r\n\r\n"),
        chunked(b"0\r\nA: 1\r\nB: 2\r\nC: " + b"t" * 40),
        431,
        id="trailer-lines",
    ),
    pytest.param(
        chunked(b"5;" + b"e" * 30 + b"\r\nhello\r\n0\r\n\r\n"),
        chunked(b"5;" + b"e" * 31 + b"\r\nhello\r\n0\r\n\r\n"),
        chunked(b"5;" + b"e" * 40),
        400,
        id="chunk-size-line",
    ),
]


@pytest.mark.parametrize(("at_limit", "over", "incomplete", "status"), LIMIT_CASES)
def test_accepts_message_exactly_at_limit(
    at_limit: bytes, over: bytes, incomplete: bytes | None, status: int
) -> None:
    # Byte by byte too: a CR waiting for its LF must not count against the limit.
    whole = parse_one(at_limit, (), LIMITS)
    assert whole.head.method in ("GET", "POST")
    assert parse_one(at_limit, bytewise(at_limit), LIMITS).summary() == whole.summary()


@pytest.mark.parametrize(("at_limit", "over", "incomplete", "status"), LIMIT_CASES)
def test_rejects_message_one_byte_over_limit(
    at_limit: bytes, over: bytes, incomplete: bytes | None, status: int
) -> None:
    assert parse_error(over, (), LIMITS).status == status
    assert parse_error(over, bytewise(over), LIMITS).status == status


# The field count is only known once the head is complete; the head's size bounds it before.
INCOMPLETE_CASES = [case for case in LIMIT_CASES if case.values[2] is not None]


@pytest.mark.parametrize(("at_limit", "over", "incomplete", "status"), INCOMPLETE_CASES)
def test_rejects_over_limit_before_message_is_complete(
    at_limit: bytes, over: bytes, incomplete: bytes, status: int
) -> None:
    assert parse_error(incomplete, (), LIMITS).status == status
    assert parse_error(incomplete, bytewise(incomplete), LIMITS).status == status


def test_rejects_endless_request_line() -> None:
    parser = RequestParser(LIMITS)
    assert parser.feed(b"GET /" + b"a" * 59) == []
    with pytest.raises(HTTPError) as caught:
        parser.feed(b"a" * 10)
    assert caught.value.status == 414


def test_rejects_endless_header_section() -> None:
    parser = RequestParser(LIMITS)
    assert parser.feed(b"GET / HTTP/1.1\r\nHost: a\r\n") == []
    with pytest.raises(HTTPError) as caught:
        for _ in range(100):
            parser.feed(b"X: y\r\n")
    assert caught.value.status == 431
    assert parser.buffered_bytes <= LIMITS.max_header_bytes + 64


def test_refuses_content_length_over_limit_before_reading_body() -> None:
    parser = RequestParser(LIMITS)
    with pytest.raises(HTTPError) as caught:
        parser.feed(request("POST / HTTP/1.1", "Content-Length: 1000000"))
    assert caught.value.status == 413


def test_streams_body_within_limit_as_it_arrives() -> None:
    parser = RequestParser(LIMITS)
    events = parser.feed(request("POST / HTTP/1.1", "Content-Length: 16", body=b"abc"))
    assert isinstance(events[0], RequestHead)
    assert events[1:] == [BodyData(b"abc")]
    assert parser.feed(b"defg") == [BodyData(b"defg")]


def test_max_chunk_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chunk_count"):
        Limits(max_chunk_count=0)
