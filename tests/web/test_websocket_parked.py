"""Parked WebSockets: callbacks on the pool, no thread while idle, sends that never wait."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from barehttp.protocol.websocket_frames import Opcode
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.web.app import App
from barehttp.web.websocket import WebSocket, WebSocketClosed
from tests.web.websocket_support import (
    TIMEOUT_S,
    RawClient,
    StartWebSocketServer,
    close_code,
    wait_until,
    websocket_servers,
)


class Rooms:
    """Members of each room, and what the handlers saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.members: dict[str, set[WebSocket]] = {}
        self.sockets: list[WebSocket] = []  # every accepted one, in order
        self.closes: list[tuple[int, str]] = []

    def join(self, room: str, ws: WebSocket) -> None:
        with self.lock:
            self.members.setdefault(room, set()).add(ws)
            self.sockets.append(ws)

    def leave(self, room: str, ws: WebSocket, code: int, reason: str) -> None:
        with self.lock:
            self.members[room].discard(ws)
            self.closes.append((code, reason))

    def broadcast(self, room: str, text: str) -> None:
        with self.lock:
            members = list(self.members.get(room, ()))
        for member in members:
            try:
                member.send_text(text)
            except WebSocketClosed:
                pass


def make_app(rooms: Rooms) -> App:
    app = App()

    @app.websocket("/rooms/{room}")
    def join(ws: WebSocket) -> None:
        ws.accept()
        room = ws.params["room"]
        rooms.join(room, ws)

        @ws.on_message
        def said(message: str | bytes) -> None:
            rooms.broadcast(room, f"{room}: {message!s}")

        @ws.on_close
        def closed(code: int, reason: str) -> None:
            rooms.leave(room, ws, code, reason)

    return app


@pytest.fixture
def start() -> Iterator[StartWebSocketServer]:
    with websocket_servers() as start:
        yield start


def test_rooms_broadcast_to_their_members_only(start: StartWebSocketServer) -> None:
    rooms = Rooms()
    server = start(make_app(rooms))
    with (
        connect(server.url("/rooms/a"), open_timeout=TIMEOUT_S) as a1,
        connect(server.url("/rooms/a"), open_timeout=TIMEOUT_S) as a2,
        connect(server.url("/rooms/b"), open_timeout=TIMEOUT_S) as b1,
    ):
        wait_until(lambda: len(rooms.sockets) == 3, what="three members")
        a1.send("hi")
        assert a1.recv(TIMEOUT_S) == "a: hi"
        assert a2.recv(TIMEOUT_S) == "a: hi"
        b1.send("yo")
        assert b1.recv(TIMEOUT_S) == "b: yo"  # b1 got nothing from room a before this
        for number in range(20):  # in order, one callback at a time
            a2.send(str(number))
        assert [a1.recv(TIMEOUT_S) for _ in range(20)] == [f"a: {n}" for n in range(20)]
        assert [a2.recv(TIMEOUT_S) for _ in range(20)][-1] == "a: 19"  # read: it sees the Close
        a2.close(4000, "leaving")
        wait_until(lambda: (4000, "leaving") in rooms.closes, what="on_close with 4000")
        a1.send("still")
        assert a1.recv(TIMEOUT_S) == "a: still"


def test_idle_parked_websockets_cost_no_thread(start: StartWebSocketServer) -> None:
    rooms = Rooms()
    # Four workers: were each WebSocket to hold one, the fifth handshake would wait.
    server = start(make_app(rooms), worker_threads=4)
    first = RawClient(server.port, "/rooms/warm")  # starts the hub's one thread
    wait_until(lambda: len(rooms.sockets) == 1, what="the first member")
    threads_before = threading.active_count()
    tasks_before = len(os.listdir("/proc/self/task"))
    clients = [RawClient(server.port, f"/rooms/r{index}") for index in range(200)]
    try:
        wait_until(lambda: len(rooms.sockets) == 201, what="201 members")
        wait_until(lambda: server.server.context.pool.wait_idle(0.0), what="handlers returned")
        # Not one more (fewer if a thread of an earlier test ended meanwhile).
        assert threading.active_count() <= threads_before
        assert len(os.listdir("/proc/self/task")) <= tasks_before
        assert server.server.context.websockets is not None
        assert server.server.context.websockets.session_count == 201
        for index, client in enumerate(clients):  # every one still answers
            client.send_frame(Opcode.TEXT, b"x")
            frame = client.next_frame()
            assert frame is not None and frame.payload == f"r{index}: x".encode()
    finally:
        for client in [first, *clients]:
            client.close()
    wait_until(lambda: server.server.context.open_connections == 0, what="all uncounted")


def test_sends_from_any_thread_never_wait_on_a_peer_that_does_not_read(
    start: StartWebSocketServer,
) -> None:
    rooms = Rooms()
    limits = WebSocketLimits(max_queued_bytes=256 * 1024)
    server = start(make_app(rooms), websocket_limits=limits)
    client = RawClient(server.port, "/rooms/slow")  # never reads from here on
    wait_until(lambda: len(rooms.sockets) == 1, what="the member")
    member = rooms.sockets[0]
    outcome: list[str] = []

    def push() -> None:  # a thread of the test: not the hub's, not a worker
        try:
            for _ in range(2_000):  # 128 MB: far beyond every buffer on the way
                member.send_bytes(b"x" * 65_536)
            outcome.append("all sent")
        except WebSocketClosed as closed:
            outcome.append(f"closed {closed.code}")

    pusher = threading.Thread(target=push)
    pusher.start()
    pusher.join(TIMEOUT_S)
    assert not pusher.is_alive(), "a send waited on the peer"
    assert outcome == ["closed 1006"]  # dropped once max_queued_bytes were waiting
    wait_until(lambda: (1006, "peer not reading") in rooms.closes, what="on_close 1006")
    wait_until(lambda: server.server.context.open_connections == 0, what="uncounted")
    client.close()


def test_a_peer_that_stops_reading_is_dropped_after_the_write_timeout(
    start: StartWebSocketServer,
) -> None:
    rooms = Rooms()
    limits = WebSocketLimits(max_queued_bytes=64 * 1024 * 1024)
    server = start(make_app(rooms), websocket_limits=limits, write_timeout_s=0.5)
    client = RawClient(server.port, "/rooms/stuck")
    wait_until(lambda: len(rooms.sockets) == 1, what="the member")
    member = rooms.sockets[0]
    for _ in range(400):  # 25 MB: more than loopback buffers hold, less than the bound
        member.send_bytes(b"y" * 65_536)
    wait_until(lambda: server.server.context.open_connections == 0, what="dropped")
    # on_close runs on the worker pool, after the socket is already uncounted
    wait_until(lambda: rooms.closes != [], what="on_close")
    assert rooms.closes == [(1006, "peer stopped reading")]
    client.close()


def test_server_close_unanswered_drops_tcp_after_the_close_timeout(
    start: StartWebSocketServer,
) -> None:
    rooms = Rooms()
    limits = WebSocketLimits(close_timeout_s=0.3)
    server = start(make_app(rooms), websocket_limits=limits, reactor_sweep_s=0.05)
    client = RawClient(server.port, "/rooms/c")
    wait_until(lambda: len(rooms.sockets) == 1, what="the member")
    rooms.sockets[0].close(4002, "bye")
    assert close_code(client.next_frame()) == 4002
    assert client.next_frame() is None  # no Close sent back: TCP dropped by the server
    wait_until(lambda: rooms.closes == [(4002, "bye")], what="on_close")
    client.close()


def test_server_close_answered_ends_cleanly(start: StartWebSocketServer) -> None:
    rooms = Rooms()
    server = start(make_app(rooms))
    with connect(server.url("/rooms/d"), open_timeout=TIMEOUT_S):
        wait_until(lambda: len(rooms.sockets) == 1, what="the member")
        rooms.sockets[0].close(4003, "done")  # the client answers the Close by itself
        wait_until(lambda: rooms.closes == [(4003, "done")], what="on_close")
    wait_until(lambda: server.server.context.open_connections == 0, what="uncounted")


def test_a_failing_callback_closes_with_1011(start: StartWebSocketServer) -> None:
    app = App()

    @app.websocket("/fragile")
    def fragile(ws: WebSocket) -> None:
        ws.accept()

        @ws.on_message
        def broken(message: str | bytes) -> None:
            raise RuntimeError("callback bug")

    server = start(app)
    client = RawClient(server.port, "/fragile")
    client.send_frame(Opcode.TEXT, b"x")
    assert close_code(client.next_frame()) == 1011
    client.close()
