"""@app.websocket with blocking handlers on a real server: the websockets library, raw sockets."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest
import trustme
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from barehttp.protocol.websocket_frames import Opcode, encode_frame
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.web.app import App
from barehttp.web.websocket import WebSocket, WebSocketClosed
from tests.web.websocket_support import (
    TIMEOUT_S,
    RawClient,
    StartWebSocketServer,
    close_code,
    handshake,
    read_head,
    wait_until,
    websocket_servers,
)


class Record:
    """What the handlers saw, for the tests to check."""

    def __init__(self) -> None:
        self.closed: list[tuple[int, str]] = []
        self.changed = threading.Condition()

    def add_close(self, code: int, reason: str) -> None:
        with self.changed:
            self.closed.append((code, reason))
            self.changed.notify_all()


def make_app(record: Record) -> App:
    app = App()

    @app.websocket("/echo/{name}")
    def echo(ws: WebSocket) -> None:
        offered = ws.subprotocols
        ws.accept(subprotocol="chat" if "chat" in offered else None)
        ws.send_text(f"hello {ws.params['name']} {ws.headers.get('x-probe', '')}".rstrip())
        try:
            while True:
                message = ws.receive()
                if isinstance(message, str):
                    ws.send_text(message)
                else:
                    ws.send_bytes(message)
        except WebSocketClosed as closed:
            record.add_close(closed.code, closed.reason)

    @app.websocket("/deny")
    def deny(ws: WebSocket) -> None:
        return

    @app.websocket("/raise-before-accept")
    def raise_before(ws: WebSocket) -> None:
        raise RuntimeError("no")

    @app.websocket("/raise-after-accept")
    def raise_after(ws: WebSocket) -> None:
        ws.accept()
        raise RuntimeError("broken handler")

    @app.websocket("/close-with-reason")
    def close_with_reason(ws: WebSocket) -> None:
        ws.accept()
        ws.close(4001, "done here")

    return app


@pytest.fixture
def start() -> Iterator[StartWebSocketServer]:
    with websocket_servers() as start:
        yield start


def test_echo_text_and_bytes_with_subprotocol_params_and_deflate(
    start: StartWebSocketServer,
) -> None:
    record = Record()
    server = start(make_app(record))
    with connect(
        server.url("/echo/ann"),
        subprotocols=[Subprotocol("chat")],
        additional_headers={"X-Probe": "yes"},
        open_timeout=TIMEOUT_S,
    ) as websocket:
        assert websocket.subprotocol == "chat"
        assert websocket.response is not None
        assert "permessage-deflate" in websocket.response.headers["sec-websocket-extensions"]
        assert websocket.recv(TIMEOUT_S) == "hello ann yes"
        websocket.send("héllo")
        assert websocket.recv(TIMEOUT_S) == "héllo"
        websocket.send(b"\x00\xff" * 40_000)  # compressed both ways
        assert websocket.recv(TIMEOUT_S) == b"\x00\xff" * 40_000
        websocket.close(4321, "bye")
    with record.changed:
        assert record.changed.wait_for(lambda: record.closed, TIMEOUT_S)
    assert record.closed == [(4321, "bye")]


def test_app_close_sends_code_and_reason(start: StartWebSocketServer) -> None:
    server = start(make_app(Record()))
    with (
        connect(server.url("/close-with-reason"), open_timeout=TIMEOUT_S) as websocket,
        pytest.raises(ConnectionClosed) as closed,
    ):
        websocket.recv(TIMEOUT_S)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "done here")


@pytest.mark.parametrize("path", ["/deny", "/raise-before-accept"])
def test_no_accept_is_http_403(start: StartWebSocketServer, path: str) -> None:
    server = start(make_app(Record()))
    with pytest.raises(InvalidStatus) as denied:
        connect(server.url(path), open_timeout=TIMEOUT_S)
    assert denied.value.response.status_code == 403


def test_failure_after_accept_closes_with_1011(start: StartWebSocketServer) -> None:
    server = start(make_app(Record()))
    with (
        connect(server.url("/raise-after-accept"), open_timeout=TIMEOUT_S) as websocket,
        pytest.raises(ConnectionClosed) as closed,
    ):
        websocket.recv(TIMEOUT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(request)
        head, _ = read_head(sock)
    return head


def test_plain_get_to_a_websocket_route_is_426_naming_websocket(
    start: StartWebSocketServer,
) -> None:
    server = start(make_app(Record()))
    head = raw_request(server.port, b"GET /echo/x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 426")
    assert b"\r\nUpgrade: websocket" in head


def test_unsupported_version_is_426_with_version_13(start: StartWebSocketServer) -> None:
    server = start(make_app(Record()))
    head = raw_request(server.port, handshake("/echo/x", version="8"))
    assert head.startswith(b"HTTP/1.1 426")
    assert b"Sec-WebSocket-Version: 13" in head


def test_malformed_upgrade_is_400(start: StartWebSocketServer) -> None:
    server = start(make_app(Record()))
    request = (
        b"GET /echo/x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"  # no Sec-WebSocket-Key
    )
    assert raw_request(server.port, request).startswith(b"HTTP/1.1 400")


def test_frames_sent_with_the_handshake_are_read(start: StartWebSocketServer) -> None:
    server = start(make_app(Record()))
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(handshake("/echo/x") + encode_frame(Opcode.TEXT, b"early", mask=b"abcd"))
        head, rest = read_head(sock)
        assert head.startswith(b"HTTP/1.1 101")
        data = rest
        while b"early" not in data:
            chunk = sock.recv(4096)
            assert chunk
            data += chunk


def test_unmasked_client_frame_is_closed_with_1002(start: StartWebSocketServer) -> None:
    server = start(make_app(Record()))
    client = RawClient(server.port, "/echo/x")
    assert client.next_frame() is not None  # the greeting
    client.send_frame(Opcode.TEXT, b"hi", masked=False)  # RFC 6455 §5.1
    assert close_code(client.next_frame()) == 1002
    assert client.next_frame() is None  # and the server closed TCP
    client.close()


def test_invalid_utf8_is_closed_with_1007(start: StartWebSocketServer) -> None:
    server = start(make_app(Record()))
    client = RawClient(server.port, "/echo/x")
    assert client.next_frame() is not None
    client.send_frame(Opcode.TEXT, b"\xff\xfe")
    assert close_code(client.next_frame()) == 1007
    client.close()


def test_oversized_message_is_closed_with_1009(start: StartWebSocketServer) -> None:
    limits = WebSocketLimits(max_frame_bytes=1000, max_message_bytes=1000)
    server = start(make_app(Record()), websocket_limits=limits)
    client = RawClient(server.port, "/echo/x")
    assert client.next_frame() is not None
    client.send_frame(Opcode.BINARY, b"x" * 1001)
    assert close_code(client.next_frame()) == 1009
    client.close()


def test_ping_is_answered_with_its_payload(start: StartWebSocketServer) -> None:
    server = start(make_app(Record()))
    client = RawClient(server.port, "/echo/x")
    assert client.next_frame() is not None
    client.send_frame(Opcode.PING, b"are you there")
    frame = client.next_frame()
    assert frame is not None and frame.opcode is Opcode.PONG
    assert frame.payload == b"are you there"
    client.close()


def test_a_peer_that_never_answers_pings_is_dropped(start: StartWebSocketServer) -> None:
    limits = WebSocketLimits(ping_interval_s=0.2, ping_timeout_s=0.3)
    server = start(make_app(Record()), websocket_limits=limits, reactor_sweep_s=0.05)
    client = RawClient(server.port, "/echo/x")
    assert client.next_frame() is not None
    ping = client.next_frame()  # after ping_interval_s of silence
    assert ping is not None and ping.opcode is Opcode.PING
    assert close_code(client.next_frame()) == 1011  # unanswered for ping_timeout_s
    assert client.next_frame() is None
    client.close()
    wait_until(lambda: server.server.context.open_connections == 0, what="connection uncounted")


def test_a_peer_that_answers_pings_stays(start: StartWebSocketServer) -> None:
    # The pong may come a second or more late on a loaded machine: the timeout allows it.
    limits = WebSocketLimits(ping_interval_s=0.1, ping_timeout_s=3.0)
    server = start(make_app(Record()), websocket_limits=limits, reactor_sweep_s=0.05)
    client = RawClient(server.port, "/echo/x")
    assert client.next_frame() is not None
    pings = 0
    until = time.monotonic() + 4.0  # beyond the first ping's timeout: answering is what counts
    while time.monotonic() < until:
        ping = client.next_frame()
        assert ping is not None and ping.opcode is Opcode.PING
        client.send_frame(Opcode.PONG, ping.payload)
        pings += 1
    assert pings >= 3
    client.send_frame(Opcode.TEXT, b"still here")
    while (frame := client.next_frame()) is not None and frame.opcode is Opcode.PING:
        client.send_frame(Opcode.PONG, frame.payload)
    assert frame is not None and frame.payload == b"still here"
    client.close()


def test_graceful_shutdown_closes_websockets_with_1001(start: StartWebSocketServer) -> None:
    server = start(make_app(Record()))
    with connect(server.url("/echo/x"), open_timeout=TIMEOUT_S) as websocket:
        assert websocket.recv(TIMEOUT_S) == "hello x"
        stopper = threading.Thread(target=server.server.shutdown, kwargs={"timeout": 5.0})
        stopper.start()
        with pytest.raises(ConnectionClosed) as closed:
            websocket.recv(TIMEOUT_S)
    stopper.join(TIMEOUT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert not stopper.is_alive()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    ca = trustme.CA()
    directory = tmp_path_factory.mktemp("wss")
    cert_path, ca_path = directory / "server.pem", directory / "ca.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    ca.cert_pem.write_to_path(str(ca_path))
    return str(cert_path), str(ca_path)


def test_wss_over_tls(start: StartWebSocketServer, tls_files: tuple[str, str]) -> None:
    cert_path, ca_path = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path)
    server = start(make_app(Record()), ssl_context=server_context)
    client_context = ssl.create_default_context(cafile=ca_path)
    with connect(server.url("/echo/tls"), ssl=client_context, open_timeout=TIMEOUT_S) as ws:
        assert ws.recv(TIMEOUT_S) == "hello tls"
        for size in (10, 70_000, 300_000):  # several TLS records per message
            payload = bytes(range(256)) * (size // 256)
            ws.send(payload)
            assert ws.recv(TIMEOUT_S) == payload
        ws.send("done")
        assert ws.recv(TIMEOUT_S) == "done"


def test_wss_frames_sent_right_behind_the_handshake_are_read(
    start: StartWebSocketServer, tls_files: tuple[str, str]
) -> None:
    cert_path, ca_path = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path)
    server = start(make_app(Record()), ssl_context=server_context)
    client_context = ssl.create_default_context(cafile=ca_path)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as raw,
        client_context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
    ):
        sock.sendall(handshake("/echo/x"))  # one TLS record...
        sock.sendall(encode_frame(Opcode.TEXT, b"right behind", mask=b"abcd"))  # ...and another
        head, data = read_head(sock)
        assert head.startswith(b"HTTP/1.1 101")
        while b"right behind" not in data:
            chunk = sock.recv(4096)
            assert chunk, data
            data += chunk
