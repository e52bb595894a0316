"""Helpers for WebSocket tests against a real barehttp server: a server fixture and raw frames."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from barehttp.protocol.limits import Limits
from barehttp.protocol.websocket_frames import Frame, FrameParser, Opcode, Role, encode_frame
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.server.server import Server
from barehttp.web.app import App

TIMEOUT_S = 15.0


@dataclass
class Running:
    server: Server
    port: int
    scheme: str = "ws"

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"


StartWebSocketServer = Callable[..., Running]


@contextlib.contextmanager
def websocket_servers() -> Iterator[StartWebSocketServer]:
    """``start(app, websocket_limits=None, ssl_context=None, **limits)`` → Running.

    Every server started is shut down on exit."""
    running: list[Running] = []

    def start(
        app: App,
        *,
        websocket_limits: WebSocketLimits | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **limits: Any,
    ) -> Running:
        server = Server(
            app,
            port=0,
            limits=Limits(**limits),
            access_log=False,
            websocket_limits=websocket_limits,
            ssl_context=ssl_context,
        )
        server.start()
        instance = Running(server, server.addresses[0][1], "wss" if ssl_context else "ws")
        running.append(instance)
        return instance

    try:
        yield start
    finally:
        for instance in running:
            instance.server.shutdown(timeout=2.0)


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT_S, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.01)


def handshake(path: str, *, version: str = "13", extra: str = "") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: {version}\r\n{extra}\r\n"
    ).encode()


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The response head and the bytes after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed before the head ended: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


class RawClient:
    """A WebSocket client on a raw socket: sends what a test builds, reads frames."""

    def __init__(self, port: int, path: str, timeout: float = TIMEOUT_S) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(handshake(path))
        head, rest = read_head(self.sock)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.parser = FrameParser(Role.CLIENT, max_frame_bytes=1 << 24)
        self.parser.receive(rest)
        self.lock = threading.Lock()

    def send_frame(self, opcode: Opcode, payload: bytes, *, masked: bool = True) -> None:
        mask = os.urandom(4) if masked else None
        self.sock.sendall(encode_frame(opcode, payload, mask=mask))

    def next_frame(self) -> Frame | None:
        """The next frame from the server; None at the end of the stream."""
        while True:
            frame = self.parser.next_frame()
            if frame is not None:
                return frame
            data = self.sock.recv(65_536)
            if not data:
                return None
            self.parser.receive(data)

    def close(self) -> None:
        self.sock.close()


def close_code(frame: Frame | None) -> int:
    assert frame is not None and frame.opcode is Opcode.CLOSE, frame
    return int.from_bytes(frame.payload[:2], "big")
