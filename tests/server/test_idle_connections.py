"""Idle keep-alive connections wait in the reactor and hold no worker thread.

bench/ measures 2,000 connections; this keeps the count small enough for a test.
"""

from __future__ import annotations

import resource
import time

import pytest

from tests.server.conftest import LATE_S, RunningServer, StartServer, wait_for
from tests.server.handlers import HELLO
from tests.server.rawhttp import ResponseReader

IDLE_CONNECTIONS = 500
GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


@pytest.fixture
def enough_file_descriptors() -> None:
    """Client and server ends share this process: two descriptors per connection."""
    needed = IDLE_CONNECTIONS * 2 + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.fail(f"RLIMIT_NOFILE hard limit {hard} is below the {needed} this test needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def open_idle_connections(server: RunningServer, count: int) -> None:
    """``count`` connections that each completed one request and then went quiet."""
    sockets = [server.connect() for _ in range(count)]
    for sock in sockets:  # all requests first, so the pool has a queue and never lingers
        sock.sendall(GET)
    for sock in sockets:
        assert ResponseReader(sock).read_response().body == HELLO


@pytest.mark.usefixtures("enough_file_descriptors")
def test_idle_connections_do_not_starve_the_pool(start_server: StartServer) -> None:
    server = start_server(worker_threads=4, idle_timeout_s=60.0)
    open_idle_connections(server, IDLE_CONNECTIONS)
    assert server.wait_for_open_connections(IDLE_CONNECTIONS)
    # Each worker lingers linger_s on its last client, then parks it.
    reactor = server.server.context.reactor
    wait_for(lambda: reactor.parked_count >= IDLE_CONNECTIONS, "idle connections parked")

    for _ in range(3):
        started = time.monotonic()
        response, reader = server.send(GET)
        elapsed = time.monotonic() - started
        assert (response.status, response.body) == (200, HELLO)
        # Idle connections holding the workers would keep it waiting for good (60 s).
        assert elapsed < LATE_S, f"a new client waited {elapsed:.2f} s behind idle connections"
        reader.sock.close()

    # The idle connections are still usable, and each is served on its own socket.
    for sock in server.sockets[:10]:
        sock.sendall(GET)
        assert ResponseReader(sock).read_response().status == 200


@pytest.mark.usefixtures("enough_file_descriptors")
def test_many_idle_connections_expire_together(start_server: StartServer) -> None:
    server = start_server(worker_threads=4, idle_timeout_s=0.5)
    open_idle_connections(server, 200)
    assert server.wait_for_open_connections(0)  # one a sweep would take 50 s
    assert server.server.context.reactor.parked_count == 0
