"""Message body framing: Content-Length and Transfer-Encoding (RFC 9112 §6)."""

from __future__ import annotations

import pytest

from tests.protocol.helpers import bytewise, parse_all, parse_error, parse_one, request

# (field lines, body sent, content_length parsed, body parsed)
CONTENT_LENGTH_BODIES = [
    pytest.param(["Content-Length: 5"], b"hello", 5, b"hello", id="simple"),
    pytest.param(["Content-Length: 0"], b"", 0, b"", id="zero"),
    pytest.param(["Content-Length: 007"], b"seven!!", 7, b"seven!!", id="leading-zeros"),
    pytest.param(["Content-Length: 42, 42"], b"x" * 42, 42, b"x" * 42, id="list-same"),
    pytest.param(["Content-Length: 3", "Content-Length: 3"], b"abc", 3, b"abc", id="repeat-same"),
    pytest.param(["content-length:\t4 "], b"\r\n\r\n", 4, b"\r\n\r\n", id="ows-crlf-body"),
    pytest.param([], b"", None, b"", id="no-body"),
]


@pytest.mark.parametrize(("fields", "body", "length", "parsed"), CONTENT_LENGTH_BODIES)
def test_reads_body_framed_by_content_length(
    fields: list[str], body: bytes, length: int | None, parsed: bytes
) -> None:
    data = request("POST /upload HTTP/1.1", *fields, body=body)
    for splits in ((), bytewise(data)):
        message = parse_one(data, splits)
        assert message.head.content_length == length
        assert message.head.chunked is False
        assert message.body == parsed
        assert message.trailers == []


def test_content_length_ends_body_and_keeps_following_bytes() -> None:
    data = request("POST / HTTP/1.1", "Content-Length: 2", body=b"okGET")
    messages = parse_all(data)
    assert [message.body for message in messages] == [b"ok"]


def test_waits_for_whole_content_length_body() -> None:
    assert parse_all(request("POST / HTTP/1.1", "Content-Length: 10", body=b"short")) == []


# RFC 9110 §8.6 and RFC 9112 §6.3 (5): Content-Length must be one decimal number.
INVALID_CONTENT_LENGTHS = [
    pytest.param(["Content-Length: 42, 43"], id="list-differs"),
    pytest.param(["Content-Length: 3", "Content-Length: 4"], id="repeat-differs"),
    pytest.param(["Content-Length: +5"], id="plus-sign"),
    pytest.param(["Content-Length: -1"], id="negative"),
    pytest.param(["Content-Length: 0x10"], id="hex"),
    pytest.param(["Content-Length: 5 5"], id="inner-space"),
    pytest.param(["Content-Length:  5 5"], id="space-separated"),
    pytest.param(["Content-Length: 1e3"], id="exponent"),
    pytest.param(["Content-Length: 5.0"], id="decimal-point"),
    pytest.param(["Content-Length:"], id="empty"),
    pytest.param(["Content-Length: ,5"], id="empty-list-member"),
    pytest.param(["Content-Length: \xd9\xa5"], id="non-ascii-digit"),  # U+0665 in UTF-8
    pytest.param(["Content-Length: 1234567890123456789"], id="19-digits"),
]


@pytest.mark.parametrize("fields", INVALID_CONTENT_LENGTHS)
def test_rejects_invalid_content_length(fields: list[str]) -> None:
    assert parse_error(request("POST / HTTP/1.1", *fields, body=b"hello")).status == 400


def test_rejects_content_length_with_transfer_encoding() -> None:
    # RFC 9112 §6.3 (3): the request-smuggling combination.
    data = request(
        "POST / HTTP/1.1", "Content-Length: 5", "Transfer-Encoding: chunked", body=b"0\r\n\r\n"
    )
    assert parse_error(data).status == 400
    data = request(
        "POST / HTTP/1.1", "Transfer-Encoding: chunked", "Content-Length: 5", body=b"0\r\n\r\n"
    )
    assert parse_error(data).status == 400


def test_rejects_transfer_encoding_in_http10() -> None:
    # RFC 9112 §6.1: Transfer-Encoding in a 1.0 message means the framing is faulty.
    data = request("POST / HTTP/1.0", "Transfer-Encoding: chunked", body=b"0\r\n\r\n")
    assert parse_error(data).status == 400


# (Transfer-Encoding field lines, status)
TRANSFER_ENCODING_ERRORS = [
    pytest.param(["Transfer-Encoding: gzip, chunked"], 501, id="gzip-then-chunked"),
    pytest.param(["Transfer-Encoding: gzip", "Transfer-Encoding: chunked"], 501, id="split-gzip"),
    pytest.param(["Transfer-Encoding: chunked, gzip"], 400, id="chunked-not-final"),
    pytest.param(["Transfer-Encoding: gzip"], 400, id="no-chunked"),
    pytest.param(["Transfer-Encoding: chunked, chunked"], 400, id="chunked-twice"),
    pytest.param(["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], 400, id="repeat"),
    pytest.param(["Transfer-Encoding:"], 400, id="empty"),
    pytest.param(["Transfer-Encoding: ,"], 400, id="empty-list"),
    pytest.param(["Transfer-Encoding: xchunked"], 400, id="lookalike"),
    pytest.param(["Transfer-Encoding: chunked;q=1"], 400, id="parameter"),
]


@pytest.mark.parametrize(("fields", "status"), TRANSFER_ENCODING_ERRORS)
def test_rejects_transfer_coding_other_than_final_chunked(fields: list[str], status: int) -> None:
    assert parse_error(request("POST / HTTP/1.1", *fields, body=b"0\r\n\r\n")).status == status


@pytest.mark.parametrize("value", ["chunked", "Chunked", "CHUNKED", " chunked "])
def test_accepts_chunked_case_insensitively(value: str) -> None:
    data = request("POST / HTTP/1.1", f"Transfer-Encoding: {value}", body=b"3\r\nabc\r\n0\r\n\r\n")
    message = parse_one(data)
    assert (message.head.chunked, message.head.content_length) == (True, None)
    assert message.body == b"abc"


# RFC 9110 §5.6.1 lets a recipient skip empty list elements; in Transfer-Encoding we
# refuse them: a front end reading only one of two lines, or trimming differently,
# would see an empty coding and no body, and take the chunks for a request.
EMPTY_TRANSFER_ENCODING_ELEMENTS = [
    pytest.param(["Transfer-Encoding: chunked", "Transfer-Encoding:"], id="empty-line-after"),
    pytest.param(["Transfer-Encoding:", "Transfer-Encoding: chunked"], id="empty-line-before"),
    pytest.param(["Transfer-Encoding: chunked", "Transfer-Encoding:  "], id="blank-line-after"),
    pytest.param(["Transfer-Encoding: chunked,"], id="trailing-comma"),
    pytest.param(["Transfer-Encoding: ,chunked"], id="leading-comma"),
    pytest.param(["Transfer-Encoding: , ,chunked, "], id="commas-around"),
    pytest.param(["Transfer-Encoding: chunked,,"], id="double-trailing-comma"),
    pytest.param(["Transfer-Encoding:"], id="empty-alone"),
]


@pytest.mark.parametrize("fields", EMPTY_TRANSFER_ENCODING_ELEMENTS)
def test_rejects_empty_transfer_encoding_element(fields: list[str]) -> None:
    data = request("POST / HTTP/1.1", *fields, body=b"3\r\nabc\r\n0\r\n\r\n")
    assert parse_error(data).status == 400
