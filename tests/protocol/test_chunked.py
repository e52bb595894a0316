"""The chunked transfer coding (RFC 9112 §7.1)."""

from __future__ import annotations

import pytest

from barehttp.protocol.limits import Limits
from tests.protocol.helpers import bytewise, parse_all, parse_error, parse_one, request


def chunked(body: bytes) -> bytes:
    return request("POST /upload HTTP/1.1", "Transfer-Encoding: chunked", body=body)


# (chunked body, decoded body, trailers)
CHUNKED_BODIES = [
    pytest.param(b"0\r\n\r\n", b"", [], id="empty"),
    pytest.param(b"5\r\nhello\r\n0\r\n\r\n", b"hello", [], id="one-chunk"),
    pytest.param(
        b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n", b"hello world", [], id="three"
    ),
    pytest.param(b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789", [], id="upper-hex"),
    pytest.param(b"a\r\n0123456789\r\n0\r\n\r\n", b"0123456789", [], id="lower-hex"),
    pytest.param(b"0005\r\nhello\r\n000\r\n\r\n", b"hello", [], id="leading-zeros"),
    pytest.param(b"4\r\n\r\n\r\n\r\n0\r\n\r\n", b"\r\n\r\n", [], id="crlf-in-data"),
    pytest.param(b"5;name=value\r\nhello\r\n0\r\n\r\n", b"hello", [], id="extension"),
    pytest.param(b"5 ;a=b;c\r\nhello\r\n0;last\r\n\r\n", b"hello", [], id="extensions-bws"),
    pytest.param(b'5;a="q;\\"x"\r\nhello\r\n0\r\n\r\n', b"hello", [], id="quoted-extension"),
    pytest.param(b"5;a=\tb\r\nhello\r\n0\r\n\r\n", b"hello", [], id="tab-in-extension"),
    pytest.param(
        b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other:  two \r\n\r\n",
        b"hello",
        [("x-checksum", "abc"), ("x-other", "two")],
        id="trailers",
    ),
    pytest.param(
        b"0\r\nA: 1\r\nA: 2\r\n\r\n", b"", [("a", "1"), ("a", "2")], id="repeated-trailers"
    ),
]


@pytest.mark.parametrize(("body", "decoded", "trailers"), CHUNKED_BODIES)
def test_decodes_chunked_body(body: bytes, decoded: bytes, trailers: list[tuple[str, str]]) -> None:
    data = chunked(body)
    for splits in ((), bytewise(data)):
        message = parse_one(data, splits)
        assert (message.head.chunked, message.head.content_length) == (True, None)
        assert message.body == decoded
        assert message.trailers == trailers


def test_chunked_body_keeps_following_bytes_for_next_request() -> None:
    data = chunked(b"2\r\nok\r\n0\r\n\r\n") + b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    assert [message.head.path for message in parse_all(data)] == ["/upload", "/next"]


def test_waits_for_end_of_trailer_section() -> None:
    assert parse_all(chunked(b"2\r\nok\r\n0\r\nX: y\r\n")) == []
    assert parse_all(chunked(b"2\r\nok\r\n0\r\n")) == []


INVALID_CHUNKED_BODIES = [
    pytest.param(b"g\r\nhello\r\n0\r\n\r\n", id="non-hex-size"),
    pytest.param(b"0x5\r\nhello\r\n0\r\n\r\n", id="0x-prefix"),
    pytest.param(b"-5\r\nhello\r\n0\r\n\r\n", id="negative-size"),
    pytest.param(b"\r\nhello\r\n0\r\n\r\n", id="empty-size"),
    pytest.param(b";ext\r\nhello\r\n0\r\n\r\n", id="extension-without-size"),
    pytest.param(b" 5\r\nhello\r\n0\r\n\r\n", id="leading-space"),
    pytest.param(b"5\nhello\r\n0\r\n\r\n", id="bare-lf-after-size"),
    pytest.param(b"5 \r\nhello\r\n0\r\n\r\n", id="space-after-size-without-extension"),
    pytest.param(b"5;a\nb\r\nhello\r\n0\r\n\r\n", id="bare-lf-in-extension"),
    pytest.param(b"5;a\rb\r\nhello\r\n0\r\n\r\n", id="cr-in-extension"),
    pytest.param(b"5;\x01\r\nhello\r\n0\r\n\r\n", id="control-in-extension"),
    pytest.param(b"5;a\x7f\r\nhello\r\n0\r\n\r\n", id="del-in-extension"),
    pytest.param(b"5\r\nhello\r\n0;a\nb\r\n\r\n", id="bare-lf-in-last-chunk-extension"),
    pytest.param(b"00000000000000005\r\nhello\r\n0\r\n\r\n", id="17-digit-size"),
    pytest.param(b"10000000000000000\r\n", id="size-over-64-bits"),
    pytest.param(b"5\r\nhello!\r\n0\r\n\r\n", id="data-longer-than-size"),
    pytest.param(b"5\r\nhelloXY0\r\n\r\n", id="no-crlf-after-data"),
    pytest.param(b"5\r\nhello\n0\r\n\r\n", id="bare-lf-after-data"),
    pytest.param(b"0\r\n Folded: x\r\n\r\n", id="obs-fold-trailer"),
    pytest.param(b"0\r\nBad Name: x\r\n\r\n", id="bad-trailer-name"),
    pytest.param(b"0\r\nX: a\x00b\r\n\r\n", id="nul-in-trailer"),
]


@pytest.mark.parametrize("body", INVALID_CHUNKED_BODIES)
def test_rejects_malformed_chunked_body(body: bytes) -> None:
    data = chunked(body)
    assert parse_error(data).status == 400
    assert parse_error(data, bytewise(data)).status == 400


def test_rejects_chunk_data_longer_than_size_before_line_ends() -> None:
    # Two bytes after the data that are not CRLF: no need to wait for more.
    assert parse_error(chunked(b"5\r\nhelloXY")).status == 400


@pytest.mark.parametrize(
    "size_line",
    [pytest.param(b"5;" + b"x" * 5000, id="extension"), pytest.param(b"0" * 5000, id="zeros")],
)
def test_rejects_chunk_size_line_too_long(size_line: bytes) -> None:
    assert parse_error(chunked(size_line + b"\r\nhello\r\n0\r\n\r\n")).status == 400
    # Without its CRLF too: a client cannot hold memory with an endless size line.
    assert parse_error(chunked(size_line)).status == 400


# RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ).
MALFORMED_CHUNK_EXTENSIONS = [
    pytest.param(b"5;", id="semicolon-without-name"),
    pytest.param(b"5;a=", id="equals-without-value"),
    pytest.param(b'5;a="x', id="unterminated-quoted-string"),
    pytest.param(b'5;a="x\\"', id="quoted-pair-eats-closing-quote"),
    pytest.param(b"5;a=\xe9", id="non-ascii-value"),
    pytest.param(b'5;a="\xe9"', id="non-ascii-quoted-value"),
    pytest.param(b"5;\xe9=1", id="non-ascii-name"),
    pytest.param(b"5;a ", id="trailing-whitespace"),
    pytest.param(b"5;a b", id="space-inside-name"),
    pytest.param(b"5;a=b c", id="space-inside-value"),
    pytest.param(b"5;=b", id="value-without-name"),
    pytest.param(b"5;a;;b", id="empty-extension-between"),
    pytest.param(b"0;", id="on-last-chunk"),
]


@pytest.mark.parametrize("size_line", MALFORMED_CHUNK_EXTENSIONS)
def test_rejects_chunk_extension_outside_grammar(size_line: bytes) -> None:
    body = size_line + (b"\r\n\r\n" if size_line.startswith(b"0") else b"\r\nhello\r\n0\r\n\r\n")
    data = chunked(body)
    assert parse_error(data).status == 400
    assert parse_error(data, bytewise(data)).status == 400


# RFC 9112 §7.1: every chunk line ends with CRLF. A bare LF is refused as soon as it
# arrives, not after waiting for bytes that a client that stopped there never sends.
BARE_LF_IN_CHUNK_LINES = [
    pytest.param(b"0\r\n\n", id="after-last-chunk"),
    pytest.param(b"5\r\nhello\r\n0\r\n\n", id="after-last-chunk-with-data"),
    pytest.param(b"0\r\nX: y\n", id="ending-trailer-line"),
    pytest.param(b"0\r\nX: y\r\n\n", id="ending-trailer-section"),
    pytest.param(b"5\n", id="ending-size-line"),
    pytest.param(b"5;a=b\n", id="ending-extension"),
    pytest.param(b"\n", id="empty-size-line"),
]


@pytest.mark.parametrize("body", BARE_LF_IN_CHUNK_LINES)
def test_rejects_bare_lf_in_chunk_line_at_once(body: bytes) -> None:
    data = chunked(body)  # nothing follows the LF: the refusal cannot wait for more
    assert parse_error(data).status == 400
    assert parse_error(data, bytewise(data)).status == 400


def test_rejects_body_in_more_chunks_than_max_chunk_count() -> None:
    limits = Limits(max_chunk_count=3)
    three = chunked(b"1\r\na\r\n" * 3 + b"0\r\n\r\n")
    assert parse_one(three, limits=limits).body == b"aaa"
    four = chunked(b"1\r\na\r\n" * 4 + b"0\r\n\r\n")
    assert parse_error(four, limits=limits).status == 413
    # Refused as the chunk arrives, before the rest of the body.
    assert parse_error(chunked(b"1\r\na\r\n" * 3 + b"1\r\n"), limits=limits).status == 413


def test_default_max_chunk_count_refuses_a_body_in_one_byte_chunks() -> None:
    count = Limits().max_chunk_count
    assert count * 64 <= Limits().max_body_bytes  # 64-byte chunks may fill a whole body
    data = chunked(b"1\r\na\r\n" * (count + 1) + b"0\r\n\r\n")
    assert parse_error(data).status == 413
