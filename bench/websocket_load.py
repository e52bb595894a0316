#!/usr/bin/env python3
"""The load side of websocket_echo.py, one process: N WebSockets, each echoing in a loop.

``python3 websocket_load.py PORT CONNECTIONS WARMUP_S DURATION_S KIND SIZE`` (KIND
``text`` or ``binary``). Each connection sends one message, waits for its whole
echo, then sends the next (sequential round trips; the connections run
concurrently). Prints ``measuring`` when the measured window starts, then one
JSON line: round trips counted in the window, its length, this process's CPU
time in it, and errors.

Why this client: plain sockets and one epoll selector, a frame masked once and
resent as the same bytes (the server still unmasks each), and an echo recognised
by its known length and first byte, not parsed. That costs a few microseconds
of Python per round trip, several times less than any of the servers spend, so
it is not what is measured (its CPU share is printed beside every figure). The
``websockets`` library client would spend more per message than the servers.
The first echo on each connection is checked byte for byte.
"""

from __future__ import annotations

import json
import resource
import selectors
import signal
import socket
import sys
import time

from websocket_client import (
    OPCODE_BINARY,
    OPCODE_TEXT,
    WebSocketError,
    echo_once,
    masked_frame,
    open_websocket,
)

TIMEOUT_S = 10.0
SETUP_LIMIT_S = 60  # for the handshakes, beyond warm-up + duration


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def payload_of(kind: str, size: int) -> tuple[int, bytes]:
    if kind == "text":
        return OPCODE_TEXT, (b"0123456789abcdef" * (size // 16 + 1))[:size]
    return OPCODE_BINARY, bytes(index % 251 for index in range(size))


def echo_frame_length(size: int) -> int:
    """Bytes of the server's (unmasked) echo frame for a ``size``-byte payload."""
    return size + (2 if size < 126 else 4 if size < 65_536 else 10)


def send_whole(sock: socket.socket, frame: bytes) -> None:
    """One send() (the socket buffer takes a small frame whole); blocking for the rest."""
    sent = sock.send(frame)
    if sent < len(frame):
        sock.settimeout(TIMEOUT_S)
        try:
            sock.sendall(frame[sent:])
        finally:
            sock.setblocking(False)


def main() -> int:
    port, connections = int(sys.argv[1]), int(sys.argv[2])
    warmup_s, duration_s = float(sys.argv[3]), float(sys.argv[4])
    opcode, payload = payload_of(sys.argv[5], int(sys.argv[6]))
    signal.alarm(int(warmup_s + duration_s + SETUP_LIMIT_S))  # never outlives the bench
    frame = masked_frame(opcode, payload)
    expected = echo_frame_length(len(payload))
    first_byte = 0x80 | opcode
    sockets: list[socket.socket] = []
    for _ in range(connections):
        sock, early = open_websocket(port, TIMEOUT_S)
        if echo_once(sock, frame, early) != (opcode, payload):
            raise WebSocketError("the first echo differs from the message")
        sock.setblocking(False)
        sockets.append(sock)
    buffers = {sock.fileno(): bytearray() for sock in sockets}
    counts = dict.fromkeys(buffers, 0)
    errors = 0
    selector = selectors.EpollSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ, sock)
        send_whole(sock, frame)
    started = time.monotonic()
    measure_at = started + warmup_s
    end_at = measure_at + duration_s
    measuring = False
    cpu_at_start = 0.0
    counted = 0
    select = selector.select
    now = started
    while now < end_at:
        for key, _ in select(0.5):
            sock = key.data
            buffer = buffers[key.fd]
            try:
                data = sock.recv(262_144)
            except BlockingIOError:
                continue
            if not data:
                raise WebSocketError("the server closed a connection")
            buffer += data
            while len(buffer) >= expected:
                if buffer[0] != first_byte:
                    errors += 1
                del buffer[:expected]
                counts[key.fd] += 1
                if measuring:
                    counted += 1
                send_whole(sock, frame)
        now = time.monotonic()
        if not measuring and now >= measure_at:
            measuring = True
            measure_at = now
            end_at = now + duration_s
            cpu_at_start = cpu_seconds()
            print("measuring", flush=True)
    window = time.monotonic() - measure_at
    cpu = cpu_seconds() - cpu_at_start
    for sock in sockets:
        sock.close()
    busiest, idlest = max(counts.values()), min(counts.values())
    print(
        json.dumps(
            {
                "round_trips": counted,
                "window_s": window,
                "client_cpu_s": cpu,
                "errors": errors,
                "busiest_connection": busiest,
                "idlest_connection": idlest,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
