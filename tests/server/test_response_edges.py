"""Edge cases of a response whose head is held back, and of errors while reading a body."""

from __future__ import annotations

import time

import pytest

from barehttp.protocol.errors import ContentTooLarge
from barehttp.server.handler import Exchange
from tests.server.conftest import LATE_S, LONG_S, WAIT_S, OffsetClock, StartServer, wait_for
from tests.server.rawhttp import ResponseReader

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


@pytest.mark.parametrize(
    ("method", "status", "content_length"),
    [
        ("GET", 204, None),
        ("GET", 200, 0),
        ("HEAD", 200, 5),
        ("GET", 304, None),
    ],
    ids=["204", "empty-200", "head", "304"],
)
def test_close_connection_after_start_response_still_sends_the_head(
    start_server: StartServer, method: str, status: int, content_length: int | None
) -> None:
    """A head held back for the first body bytes must go out when no body bytes come."""

    def handler(exchange: Exchange) -> None:
        exchange.start_response(status, [("X-Seen", "1")], content_length)
        exchange.close_connection()

    server = start_server(handler)
    sock = server.connect()
    sock.sendall(b"%s / HTTP/1.1\r\nHost: t\r\n\r\n" % method.encode())
    reader = ResponseReader(sock)
    response = reader.read_response(method=method)
    assert (response.status, response.header("x-seen")) == (status, "1")
    assert reader.is_closed()
    assert server.wait_for_open_connections(0)


def test_continue_is_sent_when_the_head_is_still_held_back(start_server: StartServer) -> None:
    """start_response() then read_body(): nothing went out yet, so 100 Continue may."""

    def handler(exchange: Exchange) -> None:
        exchange.start_response(200, [])
        while data := exchange.read_body():
            exchange.write(data)
        exchange.end()

    server = start_server(handler)
    sock = server.connect()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    reader = ResponseReader(sock)
    interim = reader.read_response()  # a client that waits for it gets it
    assert interim.raw_head == b"HTTP/1.1 100 Continue"
    sock.sendall(b"body")
    final = reader.read_response()
    assert (final.status, final.body) == (200, b"body")


def test_body_timeout_answers_408_with_close_and_closes_at_once(
    start_server: StartServer,
) -> None:
    """After a stalled body the framing is lost: say close, and do not wait again."""
    clock = OffsetClock()  # the body timeout comes when the clock jumps, once
    server = start_server(body_timeout_s=LONG_S, clock=clock)
    sock = server.connect()
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
    reactor = server.server.context.reactor
    wait_for(lambda: reactor.parked_count == 1, "the body's gathering")
    clock.advance(2 * LONG_S)
    reader = ResponseReader(sock)
    response = reader.read_response()
    assert response.status == 408
    assert response.header("connection") == "close"
    assert reader.is_closed(timeout=WAIT_S)  # a second body timeout would never come


@pytest.mark.parametrize(
    ("error", "status"),
    [(RuntimeError("internal detail"), 500), (ContentTooLarge("too big"), 413)],
    ids=["exception", "http-error"],
)
def test_error_before_any_body_byte_replaces_the_held_back_head(
    start_server: StartServer, error: Exception, status: int
) -> None:
    """Nothing went out yet, so the client gets an error response, not an empty reply."""

    def handler(exchange: Exchange) -> None:
        exchange.start_response(200, [("X-Started", "1")], content_length=100)
        raise error

    server = start_server(handler)
    response, reader = server.send(GET)
    assert response.status == status
    assert response.header("x-started") is None
    assert b"internal detail" not in response.body
    sock = reader.sock
    sock.sendall(GET)  # the framing is intact: the connection is still usable
    assert reader.read_response().status == status


def test_close_connection_after_a_complete_response_closes(start_server: StartServer) -> None:
    """close_connection() asks for a close "after this response", also once it is sent."""

    def handler(exchange: Exchange) -> None:
        exchange.send_response(200, [], b"bye")
        exchange.close_connection()

    server = start_server(handler)
    response, reader = server.send(GET)
    assert (response.status, response.body) == (200, b"bye")
    assert reader.is_closed()
    assert server.wait_for_open_connections(0)


def test_system_exit_in_a_handler_is_a_500_and_keeps_the_worker(
    start_server: StartServer,
) -> None:
    """sys.exit() in a worker thread cannot stop the process; it must not end the thread."""

    def handler(exchange: Exchange) -> None:
        if exchange.head.path == "/exit":
            raise SystemExit(3)
        exchange.send_response(200, [], b"ok")

    server = start_server(handler, worker_threads=1)
    response, _ = server.send(b"GET /exit HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.status == 500
    response, _ = server.send(GET)  # the only worker is still there
    assert (response.status, response.body) == (200, b"ok")


def test_empty_lines_do_not_keep_an_idle_connection_open(start_server: StartServer) -> None:
    """CRLFs before a request line are ignored (RFC 9112 §2.2), so they are not activity.

    Otherwise a client sending "\\r\\n" every few seconds would hold its connection
    forever, past both the idle and the header timeout.
    """
    idle_timeout_s = 1.0
    server = start_server(idle_timeout_s=idle_timeout_s, header_timeout_s=30.0)
    sock = server.connect()
    reader = ResponseReader(sock)
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < WAIT_S:
        try:
            sock.sendall(b"\r\n")
        except OSError:
            closed = True
            break
        if reader.is_closed(timeout=0.3):
            closed = True
            break
    assert closed, "empty lines kept the connection open"
    assert time.monotonic() - started < LATE_S  # the idle timeout, not the header one


def test_rapid_empty_lines_do_not_hold_a_worker_past_the_idle_timeout(
    start_server: StartServer,
) -> None:
    """Sent faster than linger_s, empty lines never let recv() time out: check as they come."""
    idle_timeout_s = 1.0
    server = start_server(idle_timeout_s=idle_timeout_s, header_timeout_s=30.0, linger_s=0.2)
    sock = server.connect()
    started = time.monotonic()
    closed = False
    while time.monotonic() - started < WAIT_S:
        try:
            sock.sendall(b"\r\n")
        except OSError:
            closed = True
            break
        time.sleep(0.02)
    assert closed, "empty lines kept a worker and the connection past the idle timeout"
    assert time.monotonic() - started < LATE_S  # the idle timeout, not the header one


@pytest.mark.parametrize("written", [b"abc", b"abcdefghijklm"], ids=["short", "long"])
def test_body_not_matching_the_declared_length_closes_the_connection(
    start_server: StartServer, written: bytes
) -> None:
    """The client frames by Content-Length: a mismatch leaves only closing to end it."""

    def handler(exchange: Exchange) -> None:
        exchange.start_response(200, [], content_length=10)
        exchange.write(written)
        exchange.end()

    server = start_server(handler)
    sock = server.connect()
    sock.sendall(GET)
    received = b""
    while chunk := sock.recv(65_536):  # a kept-alive connection would time out here
        received += chunk
    assert received.endswith(b"\r\n\r\n" + written)
