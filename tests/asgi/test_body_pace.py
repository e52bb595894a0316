"""A request body's pace under ``barehttp asgi``: --min-body-rate and --body-timeout, as in
the threaded server, counted only while the app reads."""

from __future__ import annotations

import select
import socket
import threading
import time
from pathlib import Path

from tests.asgi.conftest import StartAsgi
from tests.wsgi.process import wait_until

TIMEOUT_S = 15.0
TRICKLE_PAUSE_S = 0.02  # 10 bytes per pause: about 500 B/s
# The silence timeout: a client thread may stall a second or more on a loaded machine,
# and only the rate floor may answer the trickle.
BODY_TIMEOUT_S = 3.0
MAX_TRICKLES = 1_000  # a bound: 20 s at most


def trickle(port: int, body_length: int) -> bytes:
    """POST a body of ``body_length`` bytes, 10 at a time, until it is sent or the server
    answers; then the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(
            f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {body_length}\r\n\r\n".encode()
        )
        sent = 0
        for _ in range(MAX_TRICKLES):
            if sent >= body_length or select.select([sock], [], [], 0)[0]:
                break  # all sent, or the server answered (or closed) already
            sock.sendall(b"x" * 10)
            sent += 10
            time.sleep(TRICKLE_PAUSE_S)  # the client's pace: what this test is about
        received = b""
        while chunk := sock.recv(65_536):
            received += chunk
            if b"\r\n\r\n" in received and b"Connection: close" not in received:
                break  # answered on a kept-alive connection
        return received


def test_a_trickled_body_gets_408_below_the_minimum_rate(start: StartAsgi) -> None:
    server = start(
        "tests.asgi.apps.raw:app", "--body-timeout", str(BODY_TIMEOUT_S), "--min-body-rate", "5000"
    )
    answer = trickle(server.port, 4_000)  # about 500 B/s: 408 after ~3.3 s, not 8 s
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"too slowly" in answer


def test_the_same_trickle_passes_with_the_rate_off(start: StartAsgi) -> None:
    server = start(
        "tests.asgi.apps.raw:app", "--body-timeout", str(BODY_TIMEOUT_S), "--min-body-rate", "0"
    )
    answer = trickle(server.port, 1_000)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert b'"body_bytes": 1000' in answer


def test_an_app_slow_to_read_does_not_make_the_client_late(start: StartAsgi, markers: Path) -> None:
    """Reading pauses while the app has not taken 64 KiB: that time is not the client's."""
    server = start(
        "tests.asgi.apps.pids:app", "--body-timeout", "1.5", "--max-body", "8M"
    )  # fmt: skip
    body_length = 4 * 1024 * 1024  # far more than the socket buffers hold
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        head = f"POST /late-reader?token=late HTTP/1.1\r\nHost: x\r\nContent-Length: {body_length}"
        sock.sendall(f"{head}\r\n\r\n".encode())
        sender = threading.Thread(target=sock.sendall, args=(b"y" * body_length,), daemon=True)
        sender.start()
        wait_until((markers / "late-started").exists, TIMEOUT_S, "the app to run")
        time.sleep(4.5)  # three body timeouts in which the app takes nothing: no 408
        (markers / "late-go").touch()
        sender.join(TIMEOUT_S)
        answer = sock.recv(65_536)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert answer.endswith(str(body_length).encode())
