"""A client that resets the connection mid-body is not an application error."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from barehttp.protocol.limits import Limits
from barehttp.web.app import App
from barehttp.web.request import Request
from barehttp.web.response import Response
from tests.server.conftest import StartServer, server_factory

TIMEOUT_S = 10.0

HANDED_OVER_BYTES = Limits().body_prebuffer_bytes + 1_024


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    with server_factory() as start:
        yield start


def test_reset_while_reading_the_body_logs_no_error(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    reading = threading.Event()
    app = App()

    @app.post("/upload")
    def upload(request: Request) -> Response:
        reading.set()
        return Response.text(f"{len(request.body)} bytes\n")

    running = start_server(app)
    with caplog.at_level(logging.INFO):
        sock = running.connect()
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            # More than is gathered before dispatch, so the handler runs mid-body.
            + f"{2 * HANDED_OVER_BYTES:x}\r\n".encode()
            + b"x" * HANDED_OVER_BYTES
        )
        assert reading.wait(TIMEOUT_S)
        # SO_LINGER 0: close() sends RST, so the server's recv() fails with ECONNRESET.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        running.sockets.remove(sock)
        sock.close()
        # The handler's error (if any) is logged before the server closes its side.
        assert running.wait_for_open_connections(0, timeout=TIMEOUT_S)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == []
