#!/usr/bin/env python3
"""Slow readers: do clients that read their responses at a trickle lock others out?

For each static-file server (default: barehttp serve, waitress, nginx), opens
``--slow-clients`` (200, more than barehttp's 64 worker threads) connections
with a 4 KiB receive buffer; each asks for a 32 MiB file (more than the 4 MiB a
kernel send buffer grows to, so it cannot all be handed to the kernel at once)
and then reads 1 KiB every ``--read-interval`` seconds (0.5), so its response
would take hours. Then a
fresh client fetches the 64 KiB file ``--probes`` times (20), one after another,
and the latency of each complete download is measured: once before the slow
readers arrive, once while they are all connected and reading.

A server that gives each response a thread until it is written (http.server,
gunicorn's sync worker) runs out of threads and the probes wait or time out.

Servers run pinned to CPU 0, this client on CPU 1; every wait has a deadline.

Usage::

    python3 bench/slowread.py
    python3 bench/slowread.py --servers barehttp-static --slow-clients 500
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import statistics
import sys
import threading
import time

from harness import (
    HOST,
    LOAD_CPU,
    BenchError,
    ServerContext,
    ServerSpec,
    can_pin,
    interrupt_on_signals,
    machine_info,
    prepare,
    running_server,
    write_results,
)
from registry import SERVERS

DEFAULT_SERVERS = "barehttp-static,waitress-static,nginx"
SLOW_FILE = "/slow.bin"
SLOW_FILE_SIZE = 32 * 1_048_576
PROBE_FILE = "/64k.bin"
PROBE_SIZE = 64 * 1024
SLOW_RECEIVE_BUFFER = 4_096
SLOW_READ_BYTES = 1_024
CONNECT_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 10.0  # a probe slower than this counts as failed
SETTLE_S = 1.0  # after the slow readers sent their requests, before probing


def with_slow_file(spec: ServerSpec) -> ServerSpec:
    """``spec`` whose docroot also holds the large file (sparse: no disk space)."""
    original = spec.setup

    def setup(context: ServerContext) -> None:
        if original is not None:
            original(context)
        with (context.workdir / "docroot" / SLOW_FILE.lstrip("/")).open("wb") as file:
            file.truncate(SLOW_FILE_SIZE)

    return dataclasses.replace(spec, setup=setup)


def request(path: str, port: int) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: bench-slowread\r\n\r\n".encode()
    )


def probe_once(port: int) -> float | None:
    """Milliseconds for connect + GET + the whole 64 KiB body; None if it failed or timed out."""
    started = time.perf_counter()
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    try:
        with socket.create_connection((HOST, port), timeout=CONNECT_TIMEOUT_S) as sock:
            sock.sendall(request(PROBE_FILE, port))
            buffer = bytearray()
            while True:
                head_end = buffer.find(b"\r\n\r\n")
                if head_end >= 0 and len(buffer) >= head_end + 4 + PROBE_SIZE:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                sock.settimeout(remaining)
                data = sock.recv(65_536)
                if not data:
                    return None
                buffer += data
        if not buffer.startswith(b"HTTP/1.1 200"):
            return None
    except OSError:
        return None
    return (time.perf_counter() - started) * 1000


def probe(port: int, count: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    for _ in range(count):
        latency = probe_once(port)
        if latency is None:
            failures += 1
        else:
            latencies.append(latency)
        time.sleep(0.05)
    return latencies, failures


class SlowReaders(threading.Thread):
    """``count`` connections reading ``SLOW_READ_BYTES`` each every ``interval`` seconds."""

    def __init__(self, port: int, count: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.count = count
        self.interval = interval
        self.sockets: list[socket.socket] = []
        self.bytes_read = 0
        self.closed_by_server = 0
        self._halt = threading.Event()

    def connect_all(self) -> None:
        for _ in range(self.count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RECEIVE_BUFFER)
            sock.settimeout(CONNECT_TIMEOUT_S)
            try:
                sock.connect((HOST, self.port))
                sock.sendall(request(SLOW_FILE, self.port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            self.sockets.append(sock)

    def run(self) -> None:
        while not self._halt.wait(self.interval):
            for sock in list(self.sockets):
                try:
                    data = sock.recv(SLOW_READ_BYTES)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.closed_by_server += 1
                    self.sockets.remove(sock)
                    sock.close()
                else:
                    self.bytes_read += len(data)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
        for sock in self.sockets:
            sock.close()


def summary(latencies: list[float], failures: int) -> dict[str, float | int | None]:
    return {
        "ok": len(latencies),
        "failed": failures,
        "median_ms": statistics.median(latencies) if latencies else None,
        "max_ms": max(latencies) if latencies else None,
    }


def shown(figures: dict[str, float | int | None]) -> str:
    if figures["median_ms"] is None:
        return f"{'-':>8} {'-':>8} {figures['failed']:>6}"
    return f"{figures['median_ms']:8.1f} {figures['max_ms']:8.1f} {figures['failed']:>6}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default=DEFAULT_SERVERS)
    parser.add_argument("--slow-clients", type=int, default=200)
    parser.add_argument("--read-interval", type=float, default=0.5)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--no-install", action="store_true", help="skip venv and apt checks")
    args = parser.parse_args()
    interrupt_on_signals()
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        raise BenchError(f"unknown servers: {', '.join(unknown)}")
    tools = sorted({tool for name in names for tool in SERVERS[name].tools})
    bin_dir = prepare(tools, install=not args.no_install)
    pin = can_pin()
    if pin:
        os.sched_setaffinity(0, {LOAD_CPU})
    results: dict[str, dict[str, object]] = {}
    for name in names:
        with running_server(
            with_slow_file(SERVERS[name]), bin_dir=bin_dir, threads=0, pin=pin
        ) as server:
            port = server.context.port
            before = summary(*probe(port, args.probes))
            readers = SlowReaders(port, args.slow_clients, args.read_interval)
            readers.connect_all()
            readers.start()
            try:
                time.sleep(SETTLE_S)
                during = summary(*probe(port, args.probes))
            finally:
                readers.stop()
            results[name] = {
                "notes": server.spec.notes,
                "slow_clients_connected": len(readers.sockets) + readers.closed_by_server,
                "slow_clients_closed_by_server": readers.closed_by_server,
                "before": before,
                "during": during,
            }
    print(
        f"{args.slow_clients} slow readers (GET {SLOW_FILE}, {SLOW_RECEIVE_BUFFER} B receive "
        f"buffer, {SLOW_READ_BYTES} B every {args.read_interval} s); {args.probes} probes "
        f"GET {PROBE_FILE} before / during"
    )
    print(
        f"{'server':<18} {'before: median':>14} {'max':>8} {'fail':>6}   "
        f"{'during: median':>14} {'max':>8} {'fail':>6}"
    )
    for name, figures in results.items():
        before = figures["before"]
        during = figures["during"]
        assert isinstance(before, dict) and isinstance(during, dict)
        print(f"{name:<18} {'':>6}{shown(before)}   {'':>6}{shown(during)}")
    path = write_results(
        "slowread",
        {
            "machine": machine_info(),
            "settings": {
                "slow_clients": args.slow_clients,
                "read_interval_s": args.read_interval,
                "probes": args.probes,
                "command": " ".join(["slowread.py", *sys.argv[1:]]),
            },
            "servers": results,
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        sys.exit(2)
