"""Response heads and body framing (RFC 9112 §4, §6, §7)."""

from __future__ import annotations

import pytest

from barehttp.protocol.errors import (
    BadRequest,
    HTTPError,
    ServiceUnavailable,
    format_error_body,
)
from barehttp.protocol.writer import (
    LAST_CHUNK,
    encode_chunk,
    format_continue,
    format_head,
    format_http_date,
    has_body,
    reason_phrase,
    status_line,
)

DATE = "Sun, 06 Nov 1994 08:49:37 GMT"


def head_lines(
    headers: list[tuple[str, str]] | None = None,
    *,
    version: str = "HTTP/1.1",
    status: int = 200,
    content_length: int | None = 0,
    chunked: bool = False,
    keep_alive: bool = True,
) -> list[str]:
    data = format_head(
        version,
        status,
        headers or [],
        date=DATE,
        content_length=content_length,
        chunked=chunked,
        keep_alive=keep_alive,
    )
    assert data.endswith(b"\r\n\r\n")
    return data[:-4].decode("latin-1").split("\r\n")


def test_format_http_date_is_imf_fixdate() -> None:
    assert format_http_date(784111777) == DATE  # RFC 9110 §5.6.7's own example


STATUS_LINES = [
    pytest.param("HTTP/1.1", 200, b"HTTP/1.1 200 OK\r\n", id="200"),
    pytest.param("HTTP/1.1", 404, b"HTTP/1.1 404 Not Found\r\n", id="404"),
    pytest.param("HTTP/1.0", 503, b"HTTP/1.0 503 Service Unavailable\r\n", id="1.0-503"),
    pytest.param("HTTP/1.1", 599, b"HTTP/1.1 599 \r\n", id="unregistered"),  # empty reason
]


@pytest.mark.parametrize(("version", "status", "line"), STATUS_LINES)
def test_status_line_has_version_code_and_reason(version: str, status: int, line: bytes) -> None:
    assert status_line(version, status) == line
    assert head_lines(version=version, status=status)[0] == line[:-2].decode()


@pytest.mark.parametrize("status", [0, 99, 1000, -200])
def test_status_line_refuses_status_outside_three_digits(status: int) -> None:
    with pytest.raises(ValueError):
        status_line("HTTP/1.1", status)


def test_reason_phrase_of_registered_and_unknown_status() -> None:
    assert (reason_phrase(418), reason_phrase(599)) == ("I'm a Teapot", "")


def test_format_continue_is_interim_100_response() -> None:
    assert format_continue("HTTP/1.1") == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_adds_date_and_server_unless_given() -> None:
    assert head_lines([("Content-Type", "text/plain")]) == [
        "HTTP/1.1 200 OK",
        "Content-Type: text/plain",
        f"Date: {DATE}",
        "Server: barehttp",
        "Content-Length: 0",
    ]
    lines = head_lines([("date", "Mon, 07 Nov 1994 00:00:00 GMT"), ("SERVER", "custom")])
    assert lines == [
        "HTTP/1.1 200 OK",
        "date: Mon, 07 Nov 1994 00:00:00 GMT",
        "SERVER: custom",
        "Content-Length: 0",
    ]


def test_keeps_repeated_application_fields_in_order() -> None:
    lines = head_lines([("Set-Cookie", "a=1"), ("X", "y"), ("Set-Cookie", "b=2")])
    assert lines[1:4] == ["Set-Cookie: a=1", "X: y", "Set-Cookie: b=2"]


# (content_length, chunked, framing lines expected)
FRAMING = [
    pytest.param(12, False, ["Content-Length: 12"], id="content-length"),
    pytest.param(0, False, ["Content-Length: 0"], id="zero-length"),
    pytest.param(None, True, ["Transfer-Encoding: chunked"], id="chunked"),
    pytest.param(5, True, ["Content-Length: 5"], id="length-wins-over-chunked"),
    pytest.param(None, False, [], id="neither"),  # body ends with the connection
]


@pytest.mark.parametrize(("length", "chunked", "framing"), FRAMING)
def test_frames_body_with_content_length_or_chunked(
    length: int | None, chunked: bool, framing: list[str]
) -> None:
    lines = head_lines(content_length=length, chunked=chunked)
    assert lines[3:] == framing


# (version, keep_alive, Connection lines expected)
CONNECTION = [
    pytest.param("HTTP/1.1", True, [], id="1.1-persistent-implied"),
    pytest.param("HTTP/1.1", False, ["Connection: close"], id="1.1-close"),
    pytest.param("HTTP/1.0", True, ["Connection: keep-alive"], id="1.0-keep-alive"),
    pytest.param("HTTP/1.0", False, ["Connection: close"], id="1.0-close"),
]


@pytest.mark.parametrize(("version", "keep_alive", "connection"), CONNECTION)
def test_connection_field_states_persistence(
    version: str, keep_alive: bool, connection: list[str]
) -> None:
    lines = head_lines(version=version, keep_alive=keep_alive, content_length=None)
    assert [line for line in lines if line.lower().startswith("connection:")] == connection


# RFC 9112 §6.3 (1): no content after HEAD, 1xx, 204 or 304.
HAS_BODY = [
    pytest.param("GET", 200, True, id="get-200"),
    pytest.param("POST", 201, True, id="post-201"),
    pytest.param("GET", 404, True, id="get-404"),
    pytest.param("HEAD", 200, False, id="head"),
    pytest.param("HEAD", 404, False, id="head-404"),
    pytest.param("GET", 100, False, id="100"),
    pytest.param("GET", 101, False, id="101"),
    pytest.param("GET", 204, False, id="204"),
    pytest.param("GET", 304, False, id="304"),
    pytest.param("GET", 205, True, id="205"),
]


@pytest.mark.parametrize(("method", "status", "expected"), HAS_BODY)
def test_has_body_false_for_head_1xx_204_304(method: str, status: int, expected: bool) -> None:
    assert has_body(method, status) is expected


# Response splitting: application data must not add lines to the head.
INJECTIONS = [
    pytest.param("X-Value", "a\r\nSet-Cookie: evil=1", id="crlf-in-value"),
    pytest.param("X-Value", "a\nb", id="lf-in-value"),
    pytest.param("X-Value", "a\rb", id="cr-in-value"),
    pytest.param("X-Value", "a\x00b", id="nul-in-value"),
    pytest.param("X-Value", "a\x7fb", id="del-in-value"),
    pytest.param("X-Value", "caf\u20ac", id="not-latin-1"),
    pytest.param("X Value", "v", id="space-in-name"),
    pytest.param("X-Value:", "v", id="colon-in-name"),
    pytest.param("X\r\nEvil", "v", id="crlf-in-name"),
    pytest.param("", "v", id="empty-name"),
]


@pytest.mark.parametrize(("name", "value"), INJECTIONS)
def test_refuses_response_header_injection(name: str, value: str) -> None:
    with pytest.raises(ValueError):
        head_lines([(name, value)])


@pytest.mark.parametrize(
    "name", ["Content-Length", "transfer-encoding", "CONNECTION", "Transfer-Encoding"]
)
def test_refuses_framing_fields_set_by_application(name: str) -> None:
    with pytest.raises(ValueError, match="set by the server"):
        head_lines([(name, "close")])


def test_allows_tab_and_obs_text_in_response_value() -> None:
    assert head_lines([("X", "a\tb caf\xe9")])[1] == "X: a\tb caf\xe9"


# (data, encoded chunk)
CHUNKS = [
    pytest.param(b"hello", b"5\r\nhello\r\n", id="short"),
    pytest.param(b"x" * 255, b"ff\r\n" + b"x" * 255 + b"\r\n", id="lower-hex-size"),
    pytest.param(b"\r\n", b"2\r\n\r\n\r\n", id="crlf-data"),
    pytest.param(b"", b"", id="empty-is-nothing"),  # never the last-chunk marker
]


@pytest.mark.parametrize(("data", "encoded"), CHUNKS)
def test_encode_chunk_is_hex_size_crlf_data_crlf(data: bytes, encoded: bytes) -> None:
    assert encode_chunk(data) == encoded


def test_last_chunk_ends_chunked_body() -> None:
    assert LAST_CHUNK == b"0\r\n\r\n"


# (error, body)
ERROR_BODIES = [
    pytest.param(BadRequest("bad framing"), b"400 Bad Request: bad framing\n", id="client"),
    pytest.param(HTTPError("secret path /etc"), b"500 Internal Server Error\n", id="hidden-500"),
    pytest.param(ServiceUnavailable("busy"), b"503 Service Unavailable: busy\n", id="503"),
]


@pytest.mark.parametrize(("error", "body"), ERROR_BODIES)
def test_error_body_hides_internal_server_errors(error: HTTPError, body: bytes) -> None:
    assert format_error_body(error) == body
