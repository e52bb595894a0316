"""WebSocket keepalive under ``barehttp asgi``: Pings to a silent peer, 1011 and a drop when
it stays silent (--ws-ping-interval, --ws-ping-timeout)."""

from __future__ import annotations

import logging
import socket
import struct
import time
from pathlib import Path

from websockets.sync.client import connect

from tests.asgi.conftest import StartAsgi
from tests.asgi.test_websocket import handshake, read_head
from tests.protocol.websocket_helpers import raw_frame
from tests.wsgi.process import wait_until

APP = "tests.asgi.apps.raw:app"
TIMEOUT_S = 15.0
# A Pong may come a second or more late on a loaded machine: the timeout allows it. A
# peer that stays must outlast PING_INTERVAL_S + PING_TIMEOUT_S, when a drop would come.
PING_INTERVAL_S, PING_TIMEOUT_S = 0.3, 2.0
FAST_PINGS = ("--ws-ping-interval", str(PING_INTERVAL_S), "--ws-ping-timeout", str(PING_TIMEOUT_S))
# Pings answered: each after the last one's timeout, so a second one shows the first
# was taken as answered (else the peer was dropped then).
ROUNDS = 3
PING, PONG, CLOSE, TEXT = 0x9, 0xA, 0x8, 0x1


def read_frame(sock: socket.socket, buffer: bytearray) -> tuple[int, bytes] | None:
    """The next (unmasked, server) frame as (opcode, payload); None at EOF."""
    while True:
        if len(buffer) >= 2 and len(buffer) >= 2 + (buffer[1] & 0x7F):
            length = buffer[1] & 0x7F  # our tests see only short frames
            opcode, payload = buffer[0] & 0x0F, bytes(buffer[2 : 2 + length])
            del buffer[: 2 + length]
            return opcode, payload
        chunk = sock.recv(4096)
        if not chunk:
            return None
        buffer += chunk


def open_raw(port: int) -> tuple[socket.socket, bytearray]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    sock.sendall(handshake())
    head, _, rest = read_head(sock).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return sock, bytearray(rest)


def test_a_peer_that_never_answers_pings_is_closed_with_1011_and_dropped(
    start: StartAsgi, markers: Path
) -> None:
    server = start(APP, *FAST_PINGS)
    sock, buffer = open_raw(server.port)
    with sock:
        frames = []
        while (frame := read_frame(sock, buffer)) is not None:  # until the server drops us
            frames.append(frame)
    assert [opcode for opcode, _ in frames] == [PING, CLOSE]
    assert struct.unpack("!H", frames[1][1][:2])[0] == 1011
    wait_until((markers / "ws-1011").exists, TIMEOUT_S, "the app's websocket.disconnect")


def test_a_raw_peer_answering_pings_stays(start: StartAsgi) -> None:
    server = start(APP, *FAST_PINGS)
    sock, buffer = open_raw(server.port)
    with sock:
        for _ in range(ROUNDS):  # each Ping answered, however late the test runs
            frame = read_frame(sock, buffer)
            assert frame is not None and frame[0] == PING
            sock.sendall(raw_frame(PONG, frame[1]))
        sock.sendall(raw_frame(TEXT, b"still here"))
        while (frame := read_frame(sock, buffer)) is not None and frame[0] == PING:
            sock.sendall(raw_frame(PONG, frame[1]))
    assert frame == (TEXT, b"still here")


class Pings(logging.Handler):
    """Counts the Pings a ``websockets`` client received (from its debug log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("< PING"):
            self.count += 1


def test_a_websockets_client_answering_pings_stays(start: StartAsgi) -> None:
    server = start(APP, *FAST_PINGS)
    pings = Pings()
    client_logger = logging.getLogger("tests.asgi.keepalive-client")
    client_logger.setLevel(logging.DEBUG)
    client_logger.addHandler(pings)
    try:
        url = f"ws://127.0.0.1:{server.port}/echo"
        # Its own pings off: only its Pongs tell the server it is alive.
        with connect(
            url, open_timeout=TIMEOUT_S, ping_interval=None, logger=client_logger
        ) as websocket:
            wait_until(lambda: pings.count >= ROUNDS, TIMEOUT_S, "pings answered")
            websocket.send("alive")
            assert websocket.recv(TIMEOUT_S) == "alive"
    finally:
        client_logger.removeHandler(pings)


def test_a_peer_is_not_dropped_while_the_app_is_behind(start: StartAsgi, markers: Path) -> None:
    """Past 32 queued messages the server stops reading: the peer's Pongs wait unread in
    the kernel, which is the app's delay, not the peer's silence."""
    server = start("tests.asgi.apps.pids:app", *FAST_PINGS)
    url = f"ws://127.0.0.1:{server.port}/late-echo?token=behind"
    with connect(url, open_timeout=TIMEOUT_S, ping_interval=None) as websocket:
        for number in range(64):
            websocket.send(f"message {number}")
        # Two ping timeouts while the app takes nothing: no drop.
        time.sleep(2 * (PING_INTERVAL_S + PING_TIMEOUT_S))
        (markers / "behind-go").touch()
        echoed = [websocket.recv(TIMEOUT_S) for _ in range(64)]
    assert echoed == [f"message {number}" for number in range(64)]
