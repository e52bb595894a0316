"""After a response, an unread request body is dropped for at most drain_timeout_s.

The client here announced 60,000 bytes and sends 100 of them; the server's
budget for gathered bodies is spent (``max_gathered_body_bytes``), so the
handler runs at once, reads a little and answers. The server drops what comes
for a short, bounded time, then closes: a worker never waits ``body_timeout_s``
(30 s) for a body nobody wants.
"""

from __future__ import annotations

import time

from barehttp.server.handler import Exchange
from tests.server.conftest import StartServer
from tests.server.rawhttp import ResponseReader

# Far below body_timeout_s (30 s), which a worker waiting for the body would take;
# far above the drain (0.1 s) plus a thread that runs late on a loaded machine.
CLOSED_WITHIN_S = 10.0


def read_a_little(exchange: Exchange) -> None:
    exchange.read_body(10)
    exchange.send_response(200, [], b"done")


def test_unread_body_is_dropped_briefly_then_the_connection_closes(
    start_server: StartServer,
) -> None:
    running = start_server(read_a_little, worker_threads=1, max_gathered_body_bytes=50)
    sock = running.connect()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 60000\r\n\r\n" + b"x" * 100)
    reader = ResponseReader(sock)
    assert reader.read_response().body == b"done"
    started = time.monotonic()
    sock.settimeout(CLOSED_WITHIN_S + 1)
    while sock.recv(65_536):
        pass
    assert time.monotonic() - started < CLOSED_WITHIN_S
    response, _ = running.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", timeout=CLOSED_WITHIN_S)
    assert response.status == 200


def test_a_body_that_arrives_in_time_keeps_the_connection(start_server: StartServer) -> None:
    running = start_server(read_a_little)
    sock = running.connect()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" + b"x" * 100)
    reader = ResponseReader(sock)
    assert reader.read_response().body == b"done"
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert reader.read_response().body == b"done"
