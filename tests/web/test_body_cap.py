"""One body cap: an App serves bodies up to the server's max_body_bytes, or its own
stricter one when it was given one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from barehttp.protocol.limits import Limits
from barehttp.web.app import App
from barehttp.web.request import Request
from barehttp.web.response import Response
from tests.server.conftest import StartServer, server_factory
from tests.server.rawhttp import ResponseReader

SERVER_CAP = 3_000_000  # above Limits()'s default of 1 MiB
BODY = b"x" * 2_000_000


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    with server_factory() as start:
        yield start


def upload_app(app: App) -> App:
    @app.post("/upload")
    def upload(request: Request) -> Response:
        return Response.text(f"{len(request.body)} bytes\n")

    return app


def post(start_server: StartServer, app: App) -> int:
    running = start_server(app, max_body_bytes=SERVER_CAP, access_log=False)
    sock = running.connect()
    head = f"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {len(BODY)}\r\n\r\n"
    sock.sendall(head.encode() + BODY)
    return ResponseReader(sock).read_response().status


def test_an_app_without_limits_takes_the_servers_body_cap(start_server: StartServer) -> None:
    assert post(start_server, upload_app(App())) == 200


def test_an_apps_own_stricter_cap_still_applies(start_server: StartServer) -> None:
    app = upload_app(App(limits=Limits(max_body_bytes=1_000_000)))
    assert post(start_server, app) == 413


def test_an_apps_larger_cap_cannot_exceed_the_servers(start_server: StartServer) -> None:
    app = upload_app(App(limits=Limits(max_body_bytes=10 * SERVER_CAP)))
    running = start_server(app, max_body_bytes=1_000_000, access_log=False)
    sock = running.connect()
    head = f"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {len(BODY)}\r\n\r\n"
    sock.sendall(head.encode())
    assert ResponseReader(sock).read_response().status == 413
