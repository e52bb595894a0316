"""Handler failures become a logged 500 that reveals nothing to the client."""

from __future__ import annotations

import logging

import pytest
import requests

from barehttp.protocol.errors import HTTPError
from barehttp.server.handler import Exchange
from barehttp.web import App, Request, Response
from tests.server.conftest import WAIT_S, RunningServer, StartServer
from tests.server.handlers import SECRET
from tests.server.rawhttp import ResponseReader


def test_handler_exception_is_a_500_without_traceback(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="barehttp.server"):
        response, _ = server.send(b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.status == 500
    assert response.body == b"500 Internal Server Error\n"
    assert SECRET.encode() not in response.raw_head + response.body
    assert b"Traceback" not in response.body
    records = [r for r in caplog.records if r.name == "barehttp.server" and r.exc_info]
    assert len(records) == 1
    assert "GET /boom" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert SECRET in str(records[0].exc_info[1])  # the detail is in the log, server side


def test_connection_survives_a_handler_exception(server: RunningServer) -> None:
    """The request was fully read, so the connection may carry the next one."""
    sock = server.connect()
    sock.sendall(b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
    reader = ResponseReader(sock)
    assert reader.read_response().status == 500
    assert reader.read_response().status == 200


def test_handler_returning_without_response_is_a_500(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="barehttp.server"):
        response, reader = server.send(b"GET /silent HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.status == 500
    assert response.body == b"500 Internal Server Error\n"
    assert reader.is_closed()
    assert any("without a response" in r.getMessage() for r in caplog.records)


def test_http_error_from_handler_keeps_its_status(start_server: StartServer) -> None:
    class Teapot(HTTPError):
        status = 418
        reason = "I'm a Teapot"

    def handler(exchange: Exchange) -> None:
        raise Teapot("short and stout")

    server = start_server(handler)
    response, _ = server.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.status == 418
    assert response.body == b"418 I'm a Teapot: short and stout\n"


def test_exception_after_headers_cuts_the_response(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Too late for a 500: the server closes, so the client sees a truncated body."""

    def handler(exchange: Exchange) -> None:
        exchange.start_response(200, [])
        exchange.write(b"partial")
        raise RuntimeError(SECRET)

    server = start_server(handler)
    with caplog.at_level(logging.ERROR, logger="barehttp.server"):
        sock = server.connect()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        data = b""
        while chunk := sock.recv(65_536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"7\r\npartial\r\n")  # no last-chunk: visibly incomplete
    assert SECRET.encode() not in data
    assert any(r.exc_info for r in caplog.records)


def test_web_app_exception_is_a_500_page(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = App()

    @app.get("/fail")
    def fail(request: Request) -> Response:
        raise KeyError(SECRET)

    server = start_server(app)
    with caplog.at_level(logging.ERROR, logger="barehttp.web"):
        response = requests.get(server.url + "/fail", timeout=WAIT_S)
    assert response.status_code == 500
    assert SECRET not in response.text
    assert "Traceback" not in response.text
    assert any(r.name == "barehttp.web" and r.exc_info for r in caplog.records)
