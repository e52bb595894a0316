"""WebSockets under ``barehttp asgi``: the websockets client library and raw sockets."""

from __future__ import annotations

import base64
import os
import signal
import socket
import struct
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.asgi.conftest import StartAsgi
from tests.wsgi.process import wait_until

APP = "tests.asgi.apps.raw:app"
TIMEOUT_S = 15.0


def ws_url(port: int, path: str) -> str:
    return f"ws://127.0.0.1:{port}{path}"


def test_echo_text_and_bytes_with_subprotocol_and_headers(start: StartAsgi) -> None:
    server = start(APP)
    with connect(
        ws_url(server.port, "/echo"),
        subprotocols=[Subprotocol("chat.v2")],
        open_timeout=TIMEOUT_S,
    ) as websocket:
        assert websocket.subprotocol == "chat.v2"
        assert websocket.response is not None
        assert websocket.response.headers["x-probe"] == "yes"
        websocket.send("héllo")
        assert websocket.recv(TIMEOUT_S) == "héllo"
        websocket.send(b"\x00\xff" * 40_000)  # large enough to be compressed
        assert websocket.recv(TIMEOUT_S) == b"\x00\xff" * 40_000


def test_client_close_reaches_the_app_with_its_code(start: StartAsgi, markers: Path) -> None:
    server = start(APP)
    with connect(ws_url(server.port, "/echo"), open_timeout=TIMEOUT_S) as websocket:
        websocket.close(4321, "bye")
    wait_until((markers / "ws-4321").exists, TIMEOUT_S, "websocket.disconnect with 4321")


def test_app_close_sends_code_and_reason(start: StartAsgi) -> None:
    server = start(APP)
    url = ws_url(server.port, "/close-with-reason")
    with (
        connect(url, open_timeout=TIMEOUT_S) as websocket,
        pytest.raises(ConnectionClosed) as closed,
    ):
        websocket.recv(TIMEOUT_S)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "done here")


def test_denial_before_accept_is_403(start: StartAsgi) -> None:
    server = start(APP)
    with pytest.raises(InvalidStatus) as denied:
        connect(ws_url(server.port, "/deny"), open_timeout=TIMEOUT_S)
    assert denied.value.response.status_code == 403


def test_denial_with_the_apps_own_response(start: StartAsgi) -> None:
    server = start(APP)
    with pytest.raises(InvalidStatus) as denied:
        connect(ws_url(server.port, "/deny-custom"), open_timeout=TIMEOUT_S)
    response = denied.value.response
    assert (response.status_code, response.headers["x-why"]) == (401, "token")
    assert response.body == b"no token"


def test_app_failure_after_accept_closes_with_1011(start: StartAsgi) -> None:
    server = start(APP)
    url = ws_url(server.port, "/boom-after-accept")
    with (
        connect(url, open_timeout=TIMEOUT_S) as websocket,
        pytest.raises(ConnectionClosed) as closed,
    ):
        websocket.recv(TIMEOUT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert "the websocket app broke" in server.log()


def test_app_that_never_answers_the_handshake_gets_500(start: StartAsgi) -> None:
    server = start(APP)
    with pytest.raises(InvalidStatus) as denied:
        connect(ws_url(server.port, "/no-answer"), open_timeout=TIMEOUT_S)
    assert denied.value.response.status_code == 500


def test_shutdown_closes_websockets_with_1001(start: StartAsgi) -> None:
    server = start(APP)
    with connect(ws_url(server.port, "/echo"), open_timeout=TIMEOUT_S) as websocket:
        websocket.send("ping")
        assert websocket.recv(TIMEOUT_S) == "ping"
        server.signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(TIMEOUT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert server.process.wait(TIMEOUT_S) == 0


def handshake(version: str = "13") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
    ).encode()


def read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed before the head ended: {data!r}"
        data += chunk
    return data


def test_unmasked_client_frame_is_closed_with_1002(start: StartAsgi) -> None:
    server = start(APP)
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(handshake())
        head, _, rest = read_head(sock).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        sock.sendall(b"\x81\x02hi")  # FIN + text, no MASK bit (RFC 6455 §5.1)
        data = rest
        while len(data) < 4:
            chunk = sock.recv(4096)
            assert chunk
            data += chunk
    assert data[0] == 0x88  # a Close frame
    assert struct.unpack("!H", data[2:4])[0] == 1002


def test_unsupported_version_is_426(start: StartAsgi) -> None:
    server = start(APP)
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(handshake(version="8"))
        head = read_head(sock)
    assert head.startswith(b"HTTP/1.1 426")
    assert b"Sec-WebSocket-Version: 13" in head
