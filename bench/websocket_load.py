#!/usr/bin/env python3
"""The load side of websocket_echo.py, one process: N WebSockets, each echoing in a loop.

``python3 websocket_load.py PORT CONNECTIONS WARMUP_S DURATION_S KIND SIZE`` (KIND
``text`` or ``binary``). Each connection sends one message, waits for its whole
echo, then sends the next (sequential round trips; the connections run
concurrently). Prints ``measuring`` when the measured window starts, then one
JSON line: round trips counted in the window, its length, this process's CPU
time in it, and errors.

Why this client: plain sockets and one epoll object, a frame masked once and
resent as the same bytes (the server still unmasks each), and an echo recognised
by its known length and first byte, not parsed: what is left per round trip is
a recv() and a send(), whose kernel work (the loopback delivery of what it
sends) is the same as the server's, and a few µs of Python. An asyncio client
(the ``websockets`` library) would add an event loop's and a protocol's work per
message on top of the same system calls. Even so, against the
fastest server this client can come close to a whole CPU itself (its CPU share
is printed beside every figure): round trips per second are then a lower bound,
and the figure per second of server CPU time, which does not depend on the
client, is the one to compare. The first echo on each connection is checked byte for byte.
"""

from __future__ import annotations

import json
import resource
import select
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
        send_rest(sock, frame[sent:])


def send_rest(sock: socket.socket, rest: bytes) -> None:
    sock.settimeout(TIMEOUT_S)
    try:
        sock.sendall(rest)
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
    # Per descriptor: its socket, bound recv and send (looked up once), unparsed bytes.
    ends = {sock.fileno(): (sock, sock.recv, sock.send, bytearray()) for sock in sockets}
    errors = 0
    total = 0  # echoes received, warm-up included
    frame_length = len(frame)
    epoll = select.epoll()
    for fd, (sock, _, _, _) in ends.items():
        epoll.register(fd, select.EPOLLIN)
        send_whole(sock, frame)
    started = time.monotonic()
    measure_at = started + warmup_s
    end_at = measure_at + duration_s
    measuring = False
    cpu_at_start = 0.0
    total_at_start = 0
    poll = epoll.poll
    now = started
    while now < end_at:
        for fd, _ in poll(0.5):
            sock, recv, send, buffer = ends[fd]
            try:
                data = recv(262_144)
            except BlockingIOError:
                continue
            if not data:
                raise WebSocketError("the server closed a connection")
            if not buffer and len(data) == expected:  # the usual case: one whole echo
                if data[0] != first_byte:
                    errors += 1
                total += 1
                sent = send(frame)
                if sent != frame_length:
                    send_rest(sock, frame[sent:])
                continue
            buffer += data
            while len(buffer) >= expected:
                if buffer[0] != first_byte:
                    errors += 1
                del buffer[:expected]
                total += 1
                send_whole(sock, frame)
        now = time.monotonic()
        if not measuring and now >= measure_at:
            measuring = True
            measure_at = now
            end_at = now + duration_s
            cpu_at_start = cpu_seconds()
            total_at_start = total
            print("measuring", flush=True)
    window = time.monotonic() - measure_at
    cpu = cpu_seconds() - cpu_at_start
    counted = total - total_at_start
    epoll.close()
    for sock in sockets:
        sock.close()
    print(
        json.dumps(
            {"round_trips": counted, "window_s": window, "client_cpu_s": cpu, "errors": errors}
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
