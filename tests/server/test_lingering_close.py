"""After an error response the server half-closes and drains, so no reset eats the response."""

from __future__ import annotations

import time

from tests.server.conftest import StartServer
from tests.server.rawhttp import ResponseReader

# Long enough for the sends below however late the test runs: the drain ends as soon
# as the client closes, so it costs nothing.
LINGER_S = 10.0


def test_error_response_is_followed_by_a_lingering_close(start_server: StartServer) -> None:
    running = start_server(lingering_close_s=LINGER_S)
    sock = running.connect()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n")  # obs-fold: 400
    reader = ResponseReader(sock)
    assert reader.read_response().status == 400
    # The server shut its sending side (we read EOF) but keeps reading: bytes a
    # client still had in flight are drained instead of answered with a reset.
    assert sock.recv(1) == b""
    started = time.monotonic()
    for _ in range(3):
        sock.sendall(b"x" * 65_536)  # a reset would make a later send fail
        time.sleep(0.1)
    assert time.monotonic() - started < LINGER_S
