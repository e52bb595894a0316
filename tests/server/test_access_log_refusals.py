"""Requests the server refuses itself appear in the access log like any other."""

from __future__ import annotations

import logging

import pytest

from tests.server.conftest import StartServer
from tests.server.rawhttp import ResponseReader

REFUSED = [
    (b"GET / HTTP/1.1\r\nHost: t\r\nbad header\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", 413),
    (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 40_000 + b"\r\n\r\n", 431),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
]


@pytest.mark.parametrize(
    ("request_bytes", "status"), REFUSED, ids=[str(status) for _, status in REFUSED]
)
def test_refused_request_is_in_the_access_log(
    start_server: StartServer,
    caplog: pytest.LogCaptureFixture,
    request_bytes: bytes,
    status: int,
) -> None:
    running = start_server()
    with caplog.at_level(logging.INFO, logger="barehttp.access"):
        sock = running.connect()
        sock.sendall(request_bytes)
        assert ResponseReader(sock).read_response().status == status
        running.close_clients()
        assert running.wait_for_open_connections(0)  # logged before the server closes
    [line] = [r.getMessage() for r in caplog.records if r.name == "barehttp.access"]
    assert line.startswith("127.0.0.1 - - [")
    assert f'] "-" {status} ' in line


def test_header_timeout_is_in_the_access_log(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    running = start_server(header_timeout_s=0.3)
    with caplog.at_level(logging.INFO, logger="barehttp.access"):
        sock = running.connect()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # the head never ends
        assert ResponseReader(sock).read_response().status == 408
        running.close_clients()
        assert running.wait_for_open_connections(0)
    [line] = [r.getMessage() for r in caplog.records if r.name == "barehttp.access"]
    assert '] "-" 408 ' in line


def test_no_access_log_no_line(start_server: StartServer, caplog: pytest.LogCaptureFixture) -> None:
    running = start_server(access_log=False)
    with caplog.at_level(logging.INFO, logger="barehttp.access"):
        sock = running.connect()
        sock.sendall(REFUSED[0][0])
        assert ResponseReader(sock).read_response().status == 400
        running.close_clients()
        assert running.wait_for_open_connections(0)
    assert [r for r in caplog.records if r.name == "barehttp.access"] == []
