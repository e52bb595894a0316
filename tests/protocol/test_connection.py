"""Persistence (RFC 9112 §9.3), Expect (RFC 9110 §10.1.1) and pipelining (§9.3.2)."""

from __future__ import annotations

import pytest

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.events import BodyData, EndOfMessage, RequestHead
from barehttp.protocol.parser import ParseState, RequestParser
from tests.protocol.helpers import bytewise, parse_all, parse_error, parse_one, request

# (version, Connection field lines, keep_alive)
PERSISTENCE = [
    pytest.param("HTTP/1.1", [], True, id="1.1-default-persistent"),
    pytest.param("HTTP/1.1", ["Connection: close"], False, id="1.1-close"),
    pytest.param("HTTP/1.1", ["Connection: CLOSE"], False, id="1.1-close-case"),
    pytest.param("HTTP/1.1", ["Connection: keep-alive, close"], False, id="1.1-close-in-list"),
    pytest.param("HTTP/1.1", ["Connection: upgrade", "Connection: close"], False, id="1.1-repeat"),
    pytest.param("HTTP/1.1", ["Connection: keep-alive"], True, id="1.1-keep-alive"),
    pytest.param("HTTP/1.1", ["Connection: closed"], True, id="1.1-not-close"),
    pytest.param("HTTP/1.0", [], False, id="1.0-default-close"),
    pytest.param("HTTP/1.0", ["Connection: keep-alive"], True, id="1.0-keep-alive"),
    pytest.param("HTTP/1.0", ["Connection: Keep-Alive"], True, id="1.0-keep-alive-case"),
    pytest.param("HTTP/1.0", ["Connection: te, keep-alive"], True, id="1.0-keep-alive-list"),
    pytest.param("HTTP/1.0", ["Connection: keep-alive, close"], False, id="1.0-close-wins"),
]


@pytest.mark.parametrize(("version", "fields", "keep_alive"), PERSISTENCE)
def test_persistence_follows_version_and_connection(
    version: str, fields: list[str], keep_alive: bool
) -> None:
    head = parse_one(request(f"GET / {version}", *fields)).head
    assert head.keep_alive is keep_alive


# (version, field lines, body, expects_continue)
EXPECTATIONS = [
    pytest.param("HTTP/1.1", ["Content-Length: 2"], b"ok", True, id="content-length"),
    pytest.param("HTTP/1.1", ["Transfer-Encoding: chunked"], b"0\r\n\r\n", True, id="chunked"),
    pytest.param("HTTP/1.1", ["Content-Length: 0"], b"", False, id="empty-body"),
    pytest.param("HTTP/1.1", [], b"", False, id="no-body"),
    pytest.param("HTTP/1.0", ["Content-Length: 2"], b"ok", False, id="http10"),
]


@pytest.mark.parametrize(("version", "fields", "body", "expects"), EXPECTATIONS)
def test_expect_100_continue_only_with_body_in_http11(
    version: str, fields: list[str], body: bytes, expects: bool
) -> None:
    data = request(f"POST / {version}", "Expect: 100-continue", *fields, body=body)
    assert parse_one(data).head.expects_continue is expects


@pytest.mark.parametrize("value", ["100-Continue", " 100-continue "])
def test_expect_100_continue_is_case_insensitive(value: str) -> None:
    data = request("POST / HTTP/1.1", f"Expect: {value}", "Content-Length: 2", body=b"ok")
    assert parse_one(data).head.expects_continue is True


def test_no_expect_means_no_continue() -> None:
    data = request("POST / HTTP/1.1", "Content-Length: 2", body=b"ok")
    assert parse_one(data).head.expects_continue is False


@pytest.mark.parametrize(
    "value",
    ["200-ok", "100-continue, foo", "continue", "100-continue;x=1"],
)
@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_rejects_unknown_expectation_with_417(value: str, version: str) -> None:
    data = request(f"POST / {version}", f"Expect: {value}", "Content-Length: 2", body=b"ok")
    assert parse_error(data).status == 417


PIPELINED = (
    request("GET /first HTTP/1.1")
    + request("POST /second HTTP/1.1", "Content-Length: 3", body=b"abc")
    + request("POST /third HTTP/1.1", "Transfer-Encoding: chunked", body=b"1\r\nz\r\n0\r\n\r\n")
)


def test_returns_pipelined_request_only_after_start_next() -> None:
    parser = RequestParser()
    events = parser.feed(PIPELINED)
    assert [type(event) for event in events] == [RequestHead, EndOfMessage]
    assert isinstance(events[0], RequestHead) and events[0].path == "/first"
    assert parser.state is ParseState.DONE
    assert parser.feed(b"") == []  # still paused
    assert parser.buffered_bytes == len(PIPELINED) - len(request("GET /first HTTP/1.1"))

    parser.start_next()
    events = parser.feed(b"")
    assert [type(event) for event in events] == [RequestHead, BodyData, EndOfMessage]
    assert isinstance(events[0], RequestHead) and events[0].path == "/second"
    assert events[1] == BodyData(b"abc")

    parser.start_next()
    events = parser.feed(b"")
    assert isinstance(events[0], RequestHead) and events[0].path == "/third"
    assert [type(event) for event in events] == [RequestHead, BodyData, EndOfMessage]
    assert events[1] == BodyData(b"z")
    assert parser.buffered_bytes == 0


def test_buffers_bytes_fed_while_paused() -> None:
    parser = RequestParser()
    parser.feed(request("GET /a HTTP/1.1"))
    assert parser.feed(b"GET /b HTTP/1.1\r\nHo") == []
    assert parser.feed(b"st: x\r\n\r\n") == []
    parser.start_next()
    events = parser.feed(b"")
    assert isinstance(events[0], RequestHead) and events[0].path == "/b"


@pytest.mark.parametrize("splits", [pytest.param((), id="whole"), pytest.param(None, id="bytes")])
def test_pipelined_requests_parse_in_order(splits: tuple[int, ...] | None) -> None:
    cuts = bytewise(PIPELINED) if splits is None else splits
    messages = parse_all(PIPELINED, cuts)
    assert [(m.head.path, m.body) for m in messages] == [
        ("/first", b""),
        ("/second", b"abc"),
        ("/third", b"z"),
    ]


def test_start_next_refused_mid_request() -> None:
    parser = RequestParser()
    parser.feed(request("POST / HTTP/1.1", "Content-Length: 5", body=b"ab"))
    assert parser.state is ParseState.FIXED_BODY
    with pytest.raises(RuntimeError):
        parser.start_next()


@pytest.mark.parametrize(
    ("data", "mid_request"),
    [
        pytest.param(b"", False, id="nothing"),
        pytest.param(b"\r\n", False, id="empty-line"),
        pytest.param(b"G", True, id="first-byte"),
        pytest.param(request("POST / HTTP/1.1", "Content-Length: 5"), True, id="awaiting-body"),
    ],
)
def test_is_mid_request_once_a_request_byte_arrived(data: bytes, mid_request: bool) -> None:
    parser = RequestParser()
    parser.feed(data)
    assert parser.is_mid_request is mid_request


def test_error_after_good_request_keeps_earlier_messages() -> None:
    data = request("GET /ok HTTP/1.1") + b"BAD REQUEST\r\n\r\n"
    parser = RequestParser()
    assert isinstance(parser.feed(data)[0], RequestHead)
    parser.start_next()
    with pytest.raises(HTTPError) as caught:
        parser.feed(b"")
    assert caught.value.status == 400


def test_end_of_message_trailers_are_not_shared_between_requests() -> None:
    # A consumer may add to its trailers; that must not reach any other request.
    parser = RequestParser()
    first = parser.feed(request("GET /a HTTP/1.1"))[-1]
    parser.start_next()
    second = parser.feed(request("POST /b HTTP/1.1", "Content-Length: 1", body=b"x"))[-1]
    third = RequestParser().feed(request("GET /c HTTP/1.1"))[-1]
    assert isinstance(first, EndOfMessage)
    assert isinstance(second, EndOfMessage)
    assert isinstance(third, EndOfMessage)
    assert len({id(first.trailers), id(second.trailers), id(third.trailers)}) == 3
