"""--max-connections-per-ip: one client address cannot hold more than its share."""

from __future__ import annotations

import pytest

from barehttp.cli import build_parser, limits_from_args
from tests.server.conftest import StartServer
from tests.server.rawhttp import ResponseReader

CAP = 3


def test_connections_over_the_cap_get_429(start_server: StartServer) -> None:
    running = start_server(max_connections_per_ip=CAP)
    held = [running.connect() for _ in range(CAP)]
    assert running.wait_for_open_connections(CAP)
    response, _ = running.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.status == 429
    held.pop().close()
    assert running.wait_for_open_connections(CAP - 1)
    sock = running.connect()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert ResponseReader(sock).read_response().status == 200


def test_no_cap_by_default(start_server: StartServer) -> None:
    running = start_server()
    for _ in range(20):
        running.connect()
    assert running.wait_for_open_connections(20)
    response, _ = running.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.status == 200


@pytest.mark.parametrize(("argv", "cap"), [([], None), (["--max-connections-per-ip", "8"], 8)])
def test_cli_option_reaches_the_limits(argv: list[str], cap: int | None) -> None:
    limits = limits_from_args(build_parser().parse_args(["hello", *argv]))
    assert limits.max_connections_per_ip == cap
