"""After a response, a connection is parked at once when more are open than pollers.

A worker would otherwise wait up to ``linger_s`` for a next request that, in a
closed loop, the client sends only once it has read this answer. ``linger_s``
is set longer than the bound of every wait here, so only parking at once
passes (parking takes milliseconds; the bound is generous for a loaded
machine). The accept loop and a stop do not wait ``linger_s`` (test_listener.py).
(That no read is even tried before parking shows in system call counts only:
docs/latency.md.)
"""

from __future__ import annotations

import time

from tests.server.conftest import RunningServer, StartServer
from tests.server.handlers import HELLO
from tests.server.rawhttp import ResponseReader

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
LINGER_S = 30.0  # a worker that lingered would hold the connection this long
WAIT_S = LINGER_S / 2


def wait_parked(server: RunningServer, count: int) -> None:
    reactor = server.server.context.reactor
    deadline = time.monotonic() + WAIT_S
    while reactor.parked_count != count:
        assert time.monotonic() < deadline, f"{reactor.parked_count} parked, not {count}"
        time.sleep(0.005)


def test_a_connection_is_parked_right_after_its_response(start_server: StartServer) -> None:
    server = start_server(poller_threads=1, linger_s=LINGER_S, idle_timeout_s=60.0)
    first, second = server.connect(), server.connect()  # more connections than pollers
    assert server.wait_for_open_connections(2, timeout=WAIT_S)
    first.sendall(GET)
    assert ResponseReader(first).read_response().body == HELLO
    wait_parked(server, 2)  # both: the first at once after its response, not after LINGER_S
    second.sendall(GET)  # and the one worker is free for the other client
    assert ResponseReader(second).read_response().body == HELLO


def test_pipelined_requests_are_served_before_parking(start_server: StartServer) -> None:
    server = start_server(poller_threads=1, linger_s=LINGER_S, idle_timeout_s=60.0)
    sock, _other = server.connect(), server.connect()
    assert server.wait_for_open_connections(2, timeout=WAIT_S)
    sock.sendall(GET * 3)
    reader = ResponseReader(sock)
    for _ in range(3):
        assert reader.read_response().body == HELLO
    wait_parked(server, 2)
