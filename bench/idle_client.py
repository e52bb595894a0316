"""The client side of idle.py: idle keep-alive connections, probes and the liveness check.

Plain sockets and one selector; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from harness import HOST

CONNECT_TIMEOUT_S = 5.0  # a connect that takes longer counts as failed
RESPONSE_TIMEOUT_S = 10.0  # per batch of idle connections, and per probe
BATCH_SIZE = 100  # connections opened at once: well under every server's accept backlog


def build_request(port: int) -> bytes:
    return f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: bench-idle\r\n\r\n".encode()


def is_complete_response(buffer: bytes | bytearray) -> bool:
    """True once the head and ``Content-Length`` body bytes are in (hello answers have it)."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return False
    length = 0
    for line in bytes(buffer[:head_end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(buffer) >= head_end + 4 + length


def response_status(buffer: bytes | bytearray) -> int:
    """The status code of a response's status line, 0 if it has none."""
    parts = bytes(buffer[:16]).split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return 0


def is_ok_response(buffer: bytes | bytearray) -> bool:
    return response_status(buffer) == 200


@dataclass(slots=True)
class IdleConnection:
    sock: socket.socket
    idle_since: float = 0.0  # monotonic time its first response was complete


def exchange_all(sockets: Sequence[socket.socket], request: bytes, timeout_s: float) -> list[int]:
    """Send ``request`` on every socket, read one response on each; its status, 0 if none.

    Sockets are non-blocking while reading; one selector waits for all of them.
    """
    statuses = [0] * len(sockets)
    buffers: dict[int, bytearray] = {}
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(sockets):
            try:
                sock.sendall(request)
            except OSError:
                continue
            sock.setblocking(False)
            buffers[index] = bytearray()
            selector.register(sock, selectors.EVENT_READ, index)
        while buffers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                index = int(key.data)
                try:
                    data = sockets[index].recv(65_536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    buffers[index] += data
                    if not is_complete_response(buffers[index]):
                        continue
                    statuses[index] = response_status(buffers[index])
                selector.unregister(sockets[index])
                del buffers[index]
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.setblocking(True)
    return statuses


def open_idle_connections(port: int, count: int) -> tuple[list[IdleConnection], int]:
    """Open ``count`` connections in batches, one request each; return them and the failures."""
    request = build_request(port)
    opened: list[IdleConnection] = []
    failures = 0
    for start in range(0, count, BATCH_SIZE):
        batch: list[socket.socket] = []
        for _ in range(min(BATCH_SIZE, count - start)):
            try:
                batch.append(socket.create_connection((HOST, port), timeout=CONNECT_TIMEOUT_S))
            except OSError:
                failures += 1
        statuses = exchange_all(batch, request, RESPONSE_TIMEOUT_S)
        now = time.monotonic()
        for sock, status in zip(batch, statuses, strict=True):
            if status == 200:
                opened.append(IdleConnection(sock=sock, idle_since=now))
            else:
                failures += 1
                sock.close()
    return opened, failures


def probe_latencies_ms(port: int, count: int) -> tuple[list[float], int]:
    """``count`` fresh connect + GET + full response, one after another; latencies and failures."""
    request = build_request(port)
    latencies: list[float] = []
    failures = 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            with socket.create_connection((HOST, port), timeout=CONNECT_TIMEOUT_S) as sock:
                sock.settimeout(RESPONSE_TIMEOUT_S)
                sock.sendall(request)
                buffer = bytearray()
                while not is_complete_response(buffer):
                    data = sock.recv(65_536)
                    if not data:
                        break
                    buffer += data
            if is_complete_response(buffer) and is_ok_response(buffer):
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                failures += 1
        except OSError:
            failures += 1
        time.sleep(0.02)  # probes are sequential and spaced: a client arriving, not a load
    return latencies, failures


@dataclass(frozen=True, slots=True)
class Liveness:
    """What became of the idle connections at the check."""

    closed_by_server: int  # EOF or reset while idle: the server's idle timeout (or a limit)
    answered_again: int  # still open, and answered a second request with 200
    failed_again: dict[int, int]  # looked open, but no 200: count by status (0 = no answer)


def check_idle_connections(connections: Sequence[IdleConnection], port: int) -> Liveness:
    """First spot the ones the server closed (readable at EOF), then reuse the rest."""
    closed: set[int] = set()
    with selectors.DefaultSelector() as selector:
        for index, connection in enumerate(connections):
            selector.register(connection.sock, selectors.EVENT_READ, index)
        for key, _ in selector.select(0):
            index = int(key.data)
            sock = connections[index].sock
            try:
                sock.setblocking(False)
                # b"" at EOF. Bytes would be unsolicited (a 408 before closing, say):
                # the server gave up on this connection either way.
                sock.recv(65_536)
                closed.add(index)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(index)
            finally:
                sock.setblocking(True)
    still_open = [c.sock for i, c in enumerate(connections) if i not in closed]
    # Reused in batches, as they were opened: this checks liveness, not a 2,000-request burst
    # (which a server may rightly answer with 503 once its queue is full).
    request = build_request(port)
    statuses: list[int] = []
    for start in range(0, len(still_open), BATCH_SIZE):
        batch = still_open[start : start + BATCH_SIZE]
        statuses += exchange_all(batch, request, RESPONSE_TIMEOUT_S)
    failed: dict[int, int] = {}
    for status in statuses:
        if status != 200:
            failed[status] = failed.get(status, 0) + 1
    return Liveness(
        closed_by_server=len(closed),
        answered_again=statuses.count(200),
        failed_again=failed,
    )
