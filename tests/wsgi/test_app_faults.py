"""Whose fault: the application's OSError is a logged 500, the client's reset is not an error.

In-process server and `WSGIHandler`, raw sockets, log records captured with caplog.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterable, Iterator
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest

from barehttp.protocol.limits import Limits
from barehttp.wsgi.adapter import WSGIHandler
from tests.server.conftest import RunningServer, server_factory
from tests.server.rawhttp import ResponseReader

TIMEOUT_S = 10.0
reading = threading.Event()

HANDED_OVER_BYTES = Limits().body_prebuffer_bytes + 1_024


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/missing-config":
        with open("/nonexistent/barehttp-test/config.ini", "rb"):  # FileNotFoundError
            pass
    if path == "/oserror-mid":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def parts() -> Iterator[bytes]:
            yield b"first"
            raise ConnectionRefusedError("database refused the connection")

        return parts()
    if path == "/early-hints":
        start_response("103 Early Hints", [("Link", "</style.css>; rel=preload")])
        return [b""]
    if path == "/hop-by-hop":
        start_response("200 OK", [("Connection", "close")])
        return [b"x"]
    if path == "/content-length":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ.get("CONTENT_LENGTH", "-").encode(), b"|", environ["wsgi.input"].read()]
    if path == "/upload":
        reading.set()
        data = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [str(len(data)).encode()]
    start_response("404 Not Found", [])
    return [b""]


@pytest.fixture
def server() -> Iterator[RunningServer]:
    with server_factory() as start:
        yield start(WSGIHandler(app), access_log=False)


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.ERROR]


def get(server: RunningServer, path: str) -> tuple[int, bytes]:
    response, _ = server.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return response.status, response.body


def test_app_oserror_is_a_logged_500(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        status, body = get(server, "/missing-config")
    assert status == 500
    assert b"config.ini" not in body and b"Traceback" not in body
    [record] = errors_logged(caplog)
    assert record.name == "barehttp.wsgi"
    assert record.exc_info is not None and isinstance(record.exc_info[1], FileNotFoundError)


def test_app_oserror_mid_body_is_logged_and_cuts_the_body(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        sock = server.connect()
        sock.sendall(b"GET /oserror-mid HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = ResponseReader(sock)
        with pytest.raises(Exception):  # noqa: B017 - the chunked body never ends
            reader.read_response()
        assert reader.is_closed()
    [record] = errors_logged(caplog)
    assert record.exc_info is not None and isinstance(record.exc_info[1], ConnectionRefusedError)


def test_interim_status_as_final_is_a_logged_500(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        status, _ = get(server, "/early-hints")
    assert status == 500
    [record] = errors_logged(caplog)
    assert "103 Early Hints" in record.getMessage()


def test_hop_by_hop_header_is_a_logged_500(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        status, _ = get(server, "/hop-by-hop")
    assert status == 500
    [record] = errors_logged(caplog)
    assert "hop-by-hop" in record.getMessage()


@pytest.mark.parametrize(
    "fields",
    [b"Content-Length: 3, 3\r\n", b"Content-Length: 3\r\nContent-Length: 3\r\n"],
    ids=["list", "repeated"],
)
def test_content_length_is_the_framed_length(server: RunningServer, fields: bytes) -> None:
    response, _ = server.send(
        b"POST /content-length HTTP/1.1\r\nHost: t\r\n" + fields + b"\r\nabc", method="POST"
    )
    assert response.status == 200
    assert response.body == b"3|abc"


def test_client_reset_mid_body_logs_no_error(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    reading.clear()
    with caplog.at_level(logging.INFO):
        sock = server.connect()
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            # More than is gathered before dispatch, so the handler runs mid-body.
            + f"{2 * HANDED_OVER_BYTES:x}\r\n".encode()
            + b"x" * HANDED_OVER_BYTES
        )
        assert reading.wait(TIMEOUT_S)
        # SO_LINGER 0: close() sends RST, so the server's recv() fails with ECONNRESET.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        server.sockets.remove(sock)
        sock.close()
        assert server.wait_for_open_connections(0, timeout=TIMEOUT_S)
    assert errors_logged(caplog) == []
