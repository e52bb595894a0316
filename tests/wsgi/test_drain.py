"""Draining (SIGHUP, SIGTERM, recycling) answers every connection it accepted.

In-process and deterministic: the one thread is busy while a client connects;
the drain starts once both are accepted; the client sends its request only
after the thread is free.
A drain that closed connections with no request yet would fail that client,
though with pre-forked workers another worker would have served it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from barehttp.protocol.limits import Limits
from barehttp.server.server import Server
from barehttp.wsgi.adapter import WSGIHandler
from tests.server.rawhttp import ResponseReader, connect
from tests.wsgi.apps.probe import make_app

CLIENT_DELAY_S = 0.2  # after the busy thread frees up: well inside linger_s
# The one thread waits this long for the queued client's first request. Generous, so
# that a loaded test machine delaying the client thread cannot fail the test.
LINGER_S = 10.0


@pytest.fixture
def one_thread_server() -> Iterator[Server]:
    limits = Limits(worker_threads=1, linger_s=LINGER_S, shutdown_timeout_s=20.0)
    server = Server(WSGIHandler(make_app(None)), port=0, limits=limits, access_log=False)
    server.start()
    yield server
    if not server.context.draining:  # the test failed before its own drain
        server.shutdown(timeout=2.0)


def wait_for_open_connections(server: Server, count: int) -> None:
    deadline = time.monotonic() + 10.0
    while server.context.open_connections < count:
        assert time.monotonic() < deadline, "the server did not accept the connections"
        time.sleep(0.01)


def test_connection_accepted_before_the_drain_is_served(one_thread_server: Server) -> None:
    host, port = one_thread_server.addresses[0]
    busy = connect(host, port)
    # busy's request is on its way before waiting exists: the one thread takes busy
    # first, so it cannot spend its linger on waiting while busy queues behind it.
    busy.sendall(b"GET /slow?seconds=0.5 HTTP/1.1\r\nHost: t\r\n\r\n")
    waiting = connect(host, port)
    with busy, waiting:
        wait_for_open_connections(one_thread_server, 2)  # both accepted before the drain
        drain = threading.Thread(target=one_thread_server.shutdown, daemon=True)
        drain.start()
        assert ResponseReader(busy).read_response().status == 200
        time.sleep(CLIENT_DELAY_S)
        waiting.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
        response = ResponseReader(waiting).read_response()
        assert response.status == 200
        assert response.header("connection") == "close"  # served, then closed: draining
        drain.join(30)
        assert not drain.is_alive()
