"""The attacks of bench/hostile.py: each opens its clients, keeps them busy, and stops.

Every attack is bounded: a fixed count of client connections or requests, a
deadline on every socket call, and ``stop()`` closes all it opened.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable

HOST = "127.0.0.1"
TIMEOUT_S = 15.0  # no socket call of an attacker waits longer


def unverified_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the bench server's own self-signed certificate
    return context


def open_socket(port: int, *, tls: bool = False, receive_buffer: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(TIMEOUT_S)
    sock.connect((HOST, port))
    if tls:
        return unverified_tls().wrap_socket(sock)
    return sock


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of one response framed by Content-Length (what the servers send)."""
    buffer = bytearray()
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        data = sock.recv(65_536)
        if not data:
            raise ConnectionError("closed before the head ended")
        buffer += data
    head = bytes(buffer[:end]).decode("latin-1")
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = buffer[end + 4 :]
    while len(body) < length:
        data = sock.recv(65_536)
        if not data:
            raise ConnectionError("closed before the body ended")
        body += data
    return int(head.split(" ", 2)[1]), bytes(body)


def exchange(port: int, request: bytes, *, tls: bool = False) -> tuple[int, bytes]:
    with open_socket(port, tls=tls) as sock:
        sock.sendall(request)
        return read_response(sock)


class Attack:
    """Base: ``start()`` returns once the attack is under way; ``stop()`` ends it."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.halt = threading.Event()
        self.threads: list[threading.Thread] = []
        self.notes = ""

    def start(self, port: int) -> None:
        raise NotImplementedError

    def spawn(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=TIMEOUT_S + 5)
        for sock in self.sockets:
            sock.close()


class HeldRequests(Attack):
    """``count`` connections each sending ``request`` once, then silent (held open)."""

    def __init__(self, request: bytes, count: int, *, tls: bool = False) -> None:
        super().__init__()
        self.request, self.count, self.tls = request, count, tls

    def start(self, port: int) -> None:
        refused = 0
        for _ in range(self.count):
            try:
                sock = open_socket(port, tls=self.tls)
                sock.sendall(self.request)
            except OSError:
                refused += 1
                continue
            self.sockets.append(sock)
        self.notes = f"{len(self.sockets)} held" + (f", {refused} refused" if refused else "")


class TrickledBodies(Attack):
    """``count`` POSTs whose bodies come at ``rate`` bytes/s each, in 0.1 s steps."""

    def __init__(self, path: str, count: int, rate: int, seconds: float) -> None:
        super().__init__()
        self.path, self.count, self.rate = path, count, rate
        self.length = int(rate * seconds)

    def start(self, port: int) -> None:
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {HOST}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {self.length}\r\n\r\n"
        )
        for _ in range(self.count):
            sock = open_socket(port)
            sock.sendall(head.encode())
            self.sockets.append(sock)
        self.spawn(self._trickle)
        self.notes = f"{self.count} bodies of {self.length} bytes"

    def _trickle(self) -> None:
        step = self.rate // 10
        sent = 0
        while sent < self.length and not self.halt.wait(0.1):
            piece = b"x" * min(step, self.length - sent)
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(piece)
            sent += len(piece)


class SlowTLSReaders(Attack):
    """``count`` TLS clients asking for ``path`` and reading ``rate`` bytes/s each."""

    def __init__(self, path: str, count: int, rate: int) -> None:
        super().__init__()
        self.path, self.count, self.rate = path, count, rate

    def start(self, port: int) -> None:
        for _ in range(self.count):
            sock = open_socket(port, tls=True, receive_buffer=4_096)
            sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            sock.setblocking(False)
            self.sockets.append(sock)
        self.spawn(self._read)
        self.notes = f"{len(self.sockets)} readers"

    def _read(self) -> None:
        step = self.rate // 4
        while not self.halt.wait(0.25):
            for sock in self.sockets:
                with contextlib.suppress(ssl.SSLWantReadError, BlockingIOError, OSError):
                    sock.recv(step)


class ConcurrentRequests(Attack):
    """``count`` requests from ``make(index)``, ``parallel`` at a time, once each."""

    def __init__(self, make: Callable[[int], bytes], count: int, parallel: int) -> None:
        super().__init__()
        self.make, self.count, self.parallel = make, count, parallel
        self.statuses: dict[int, int] = {}
        self._lock = threading.Lock()

    def start(self, port: int) -> None:
        self.spawn(lambda: self._run(port))
        time.sleep(0.2)  # let the first wave leave

    def _run(self, port: int) -> None:
        def one(index: int) -> None:
            try:
                status, _ = exchange(port, self.make(index))
            except OSError:
                status = 0
            with self._lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1

        with concurrent.futures.ThreadPoolExecutor(self.parallel) as pool:
            list(pool.map(one, range(self.count)))
        self.notes = ", ".join(f"{n}x {s or 'error'}" for s, n in sorted(self.statuses.items()))

    def stop(self) -> None:
        super().stop()
        if not self.notes:
            self.notes = ", ".join(f"{n}x {s or 'error'}" for s, n in sorted(self.statuses.items()))
