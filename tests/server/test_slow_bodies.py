"""Slow request bodies hold no worker: bodies are gathered in the reactor before dispatch.

Each server here has two worker threads and far more slow senders than that.
Without the gathering, every worker would sit in ``read_body()`` waiting for a
body (``body_timeout_s`` is 30 s by default) and the legitimate client below
would not be answered in time.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from barehttp.protocol.errors import RequestTimeout
from barehttp.protocol.events import BodyData, RequestHead
from barehttp.protocol.headers import Headers
from barehttp.protocol.limits import Limits
from barehttp.server.body_reader import BodyCollector, BodyPace
from barehttp.server.handler import Exchange
from tests.server.conftest import WAIT_S, RunningServer, StartServer, wait_for
from tests.server.handlers import TestHandler
from tests.server.rawhttp import ResponseReader

ATTACKERS = 16
THREADS = 2
# Without the gathering, the client would wait the trickle's 10 s or the 30 s of
# body_timeout_s; with it, no more than a loaded machine's delays.
SERVED_WITHIN_S = 5.0
TRICKLE_PAUSE_S = 0.1


def post_head(length: int, path: str = "/echo") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {length}\r\n\r\n".encode("ascii")


def assert_served_promptly(running: RunningServer) -> None:
    started = time.monotonic()
    response, _ = running.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", timeout=SERVED_WITHIN_S)
    assert response.status == 200
    assert time.monotonic() - started < SERVED_WITHIN_S


def test_bodies_that_never_come_hold_no_worker(start_server: StartServer) -> None:
    running = start_server(worker_threads=THREADS)
    for _ in range(ATTACKERS):
        running.connect().sendall(post_head(1_000))
    assert running.wait_for_open_connections(ATTACKERS)
    assert_served_promptly(running)


def test_trickled_bodies_hold_no_worker_and_arrive_whole(start_server: StartServer) -> None:
    running = start_server(worker_threads=THREADS)
    # 6,400 bytes at 640 B/s: ten seconds, far longer than the legitimate client may wait.
    body = (bytes(range(256)) * 12 + bytes(128)) * 2
    attackers = [running.connect() for _ in range(ATTACKERS)]
    for sock in attackers:
        sock.sendall(post_head(len(body)))
    stop = threading.Event()

    def trickle() -> None:
        for offset in range(0, len(body), 64):
            if stop.is_set():
                return
            for sock in attackers:
                sock.sendall(body[offset : offset + 64])
            stop.wait(TRICKLE_PAUSE_S)  # 640 B/s per client: above the 512 B/s floor

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        assert_served_promptly(running)
    finally:
        sender.join(timeout=WAIT_S + len(body) / 64 * TRICKLE_PAUSE_S)
    for sock in attackers:
        response = ResponseReader(sock).read_response()
        assert response.status == 200
        assert response.body == body


class StartedHandler(TestHandler):
    """Sets ``started`` when a request reaches the handler."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()

    def __call__(self, exchange: Exchange) -> None:
        self.started.set()
        super().__call__(exchange)


def test_body_larger_than_prebuffer_is_streamed_to_the_handler(start_server: StartServer) -> None:
    handler = StartedHandler()
    running = start_server(handler, body_prebuffer_bytes=1_024)
    sock = running.connect()
    sock.sendall(post_head(4_000) + b"a" * 1_500)
    assert handler.started.wait(WAIT_S), "the handler must run once body_prebuffer_bytes came"
    sock.sendall(b"b" * 2_500)
    response = ResponseReader(sock).read_response()
    assert response.body == b"a" * 1_500 + b"b" * 2_500


def test_gathered_bytes_over_the_total_budget_are_streamed(start_server: StartServer) -> None:
    handler = StartedHandler()
    running = start_server(handler, max_gathered_body_bytes=1_000)
    sock = running.connect()
    sock.sendall(post_head(5_000) + b"a" * 2_000)  # under body_prebuffer_bytes, over the budget
    assert handler.started.wait(WAIT_S), "past max_gathered_body_bytes the handler must run at once"
    sock.sendall(b"b" * 3_000)
    assert ResponseReader(sock).read_response().body == b"a" * 2_000 + b"b" * 3_000
    assert running.server.context.gathered_bytes == 0


def test_gathered_bytes_are_let_go_when_the_client_leaves(start_server: StartServer) -> None:
    running = start_server()
    sock = running.connect()
    sock.sendall(post_head(5_000) + b"a" * 2_000)
    wait_for(lambda: running.server.context.gathered_bytes == 2_000, "the body gathered")
    sock.close()
    running.sockets.clear()
    assert running.wait_for_open_connections(0)
    assert running.server.context.gathered_bytes == 0


def test_small_body_is_dispatched_only_when_complete(start_server: StartServer) -> None:
    handler = StartedHandler()
    running = start_server(handler)
    sock = running.connect()
    sock.sendall(post_head(100) + b"x" * 50)
    assert running.wait_for_open_connections(1)
    assert not handler.started.wait(0.3)  # bounded: a failure shows up as a start
    sock.sendall(b"y" * 50)
    response = ResponseReader(sock).read_response()
    assert response.body == b"x" * 50 + b"y" * 50
    assert handler.started.is_set()


def test_expect_continue_cannot_skip_the_gathering(start_server: StartServer) -> None:
    running = start_server(worker_threads=THREADS)
    head = b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
    for _ in range(ATTACKERS):
        running.connect().sendall(head)
    assert running.wait_for_open_connections(ATTACKERS)
    assert_served_promptly(running)
    sock = running.connect()
    sock.sendall(head)
    reader = ResponseReader(sock)
    assert reader.read_response().status == 100  # sent by the server, once
    sock.sendall(b"hello")
    assert reader.read_response().body == b"hello"


def test_expect_continue_for_a_large_body_is_left_to_the_handler(
    start_server: StartServer,
) -> None:
    handler = StartedHandler()
    running = start_server(handler, body_prebuffer_bytes=1_024)
    sock = running.connect()
    sock.sendall(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n"
    )
    assert handler.started.wait(WAIT_S)  # before any body byte: it may refuse the upload unsent
    reader = ResponseReader(sock)
    assert reader.read_response().status == 100
    sock.sendall(b"z" * 2_000)
    assert reader.read_response().body == b"z" * 2_000


def test_chunked_body_is_gathered_too(start_server: StartServer) -> None:
    running = start_server(worker_threads=1)
    slow = running.connect()
    slow.sendall(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    )
    assert running.wait_for_open_connections(1)
    assert_served_promptly(running)
    slow.sendall(b"0\r\n\r\n")
    assert ResponseReader(slow).read_response().body == b"hello"


def test_body_that_stops_gets_408(start_server: StartServer) -> None:
    running = start_server(body_timeout_s=0.5)
    sock = running.connect()
    sock.sendall(post_head(1_000) + b"x" * 10)
    response = ResponseReader(sock).read_response()
    assert response.status == 408
    assert sock.recv(1) == b""


# -- the pace, with times passed in ------------------------------------------------


def test_pace_deadline_is_silence_after_the_last_bytes() -> None:
    pace = BodyPace(Limits(body_timeout_s=10.0, min_body_rate_bytes_per_s=100), now=0.0)
    assert pace.deadline == 10.0
    pace.received(2_000, now=5.0)  # 20 s of credit at 100 B/s
    assert pace.deadline == 15.0
    pace.check(15.0)
    with pytest.raises(RequestTimeout):
        pace.check(15.01)


def test_pace_refuses_an_average_below_the_floor() -> None:
    pace = BodyPace(Limits(body_timeout_s=10.0, min_body_rate_bytes_per_s=100), now=0.0)
    for second in range(1, 10):
        pace.received(50, now=float(second))  # 50 B/s: half the floor
    with pytest.raises(RequestTimeout, match="too slowly"):
        for second in range(10, 40):
            pace.received(50, now=float(second))


def test_collector_joins_pieces_and_is_ready_at_the_prebuffer_size() -> None:
    limits = Limits(body_prebuffer_bytes=10)
    head = RequestHead("POST", "/", "/", "", "HTTP/1.1", Headers(), True, 20, False, False)
    collector = BodyCollector(head, limits, BodyPace(limits, now=0.0))
    for index in range(9):
        collector.take([BodyData(b"%d" % index)], now=float(index))
    assert not collector.is_ready
    collector.take([BodyData(b"9")], now=9.0)
    assert collector.is_ready
    assert [event.data for event in collector.release() if isinstance(event, BodyData)] == [
        b"0123456789"
    ]


def test_attackers_leave_no_connection_behind(start_server: StartServer) -> None:
    running = start_server(worker_threads=THREADS)
    socks = [running.connect() for _ in range(ATTACKERS)]
    for sock in socks:
        sock.sendall(post_head(1_000))
    assert running.wait_for_open_connections(ATTACKERS)
    for sock in socks:
        sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    running.sockets.clear()
    assert running.wait_for_open_connections(0)


def test_an_error_while_gathering_costs_one_connection_not_the_reactor(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = start_server()
    sock = running.connect()
    sock.sendall(post_head(100) + b"x" * 10)
    reactor = running.server.context.reactor
    wait_for(lambda: reactor.parked_count == 1, "the gathering connection parked")

    def broken_feed(self: object, data: bytes) -> list[object]:
        raise RuntimeError("parser bug")

    monkeypatch.setattr("barehttp.protocol.parser.RequestParser.feed", broken_feed)
    sock.sendall(b"y" * 10)  # read by the reactor: the parser raises there
    assert sock.recv(1) == b""  # that connection is closed...
    monkeypatch.undo()
    assert_served_promptly(running)
    running.close_clients()
    assert running.wait_for_open_connections(0)
    slow = running.connect()  # ...and the reactor still parks and wakes the others:
    slow.sendall(post_head(3))
    wait_for(lambda: reactor.parked_count == 1, "the gathering connection parked")
    slow.sendall(b"abc")
    assert ResponseReader(slow).read_response().body == b"abc"
