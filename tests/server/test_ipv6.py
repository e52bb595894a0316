"""Serving on the IPv6 loopback."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.server.conftest import WAIT_S, CurlRun, StartServer
from tests.server.handlers import HELLO


def has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_serves_on_ipv6_loopback(start_server: StartServer, curl: CurlRun) -> None:
    server = start_server(host="::1")
    assert server.server.addresses == [("::1", server.port)]
    response, _ = server.send(b"GET /whoami HTTP/1.1\r\nHost: [::1]\r\n\r\n")
    assert response.status == 200
    with httpx.Client(timeout=WAIT_S) as client:
        got = client.get(f"http://[::1]:{server.port}/")
        assert (got.status_code, got.content) == (200, HELLO)
    assert curl("--globoff", f"http://[::1]:{server.port}/").stdout == HELLO
