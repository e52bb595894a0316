#!/usr/bin/env python3
"""Idle WebSockets: what they cost a server, whether a new client still gets in, echo round trips.

For each server (barehttp.web with a parked echo handler, and uvicorn with the
``websockets`` library running an ASGI echo), opens ``--connections`` WebSockets
(raw sockets: handshake, one echoed message, then idle) and measures:

(a) the server's resident memory (VmRSS over its process tree) and thread
    count, before and with all of them open;
(b) a new client's handshake + one echo (``--probes`` times, median and max),
    with all of them open;
(c) echo round trips per second on one connection for ``--duration`` seconds.

Servers run pinned to CPU 0, this client to CPU 1. Every wait has a deadline.
The default of 9,000 fits a hard open-files limit of 20,000: barehttp budgets two
descriptors a connection (server/fd_limits.py) and answers 503 past that.

Usage::

    .venv/bin/python bench/websocket_idle.py                        # 9,000 each
    .venv/bin/python bench/websocket_idle.py --connections 2000 --servers barehttp
    .venv/bin/python bench/websocket_idle.py --peer-python /path/to/venv/bin/python
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
HOST = "127.0.0.1"
SERVER_CPU, CLIENT_CPU = "0", "1"
DEADLINE_S = 120.0  # opening all connections, per server
BATCH = 100  # handshakes in flight at once: under every server's accept backlog
MASK = b"\x01\x02\x03\x04"


def frame(payload: bytes) -> bytes:
    """A masked text frame (RFC 6455 §5.2), payload under 126 bytes."""
    masked = bytes(byte ^ MASK[index % 4] for index, byte in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + MASK + masked


def handshake() -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /echo HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def server_command(name: str, port: int, peer_python: str) -> list[str]:
    if name == "barehttp":
        return [sys.executable, str(BENCH / "apps" / "ws_echo_native.py"), str(port)]
    return [
        peer_python, "-m", "uvicorn", "--app-dir", str(BENCH / "apps"), "ws_echo_asgi:app",
        "--host", HOST, "--port", str(port), "--ws", "websockets", "--lifespan", "off",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


@contextmanager
def running(name: str, peer_python: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    command = ["taskset", "-c", SERVER_CPU, *server_command(name, port, peer_python)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit(f"{name} did not start") from None
                time.sleep(0.05)
        yield process, port
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        member = stack.pop()
        found.append(member)
        stack.extend(children.get(member, []))
    return found


def rss_mib_and_threads(pid: int) -> tuple[float, int]:
    rss_kib = threads = 0
    for member in tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss_kib += int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads += int(line.split()[1])
        except OSError:
            continue
    return rss_kib / 1024, threads


def read_until(sock: socket.socket, done: bytes, deadline: float) -> bytes:
    data = b""
    while done not in data:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def open_idle(port: int, count: int) -> list[socket.socket]:
    """``count`` WebSockets that each echoed one message; opened BATCH at a time."""
    opened: list[socket.socket] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(opened) < count:
        batch = []
        for _ in range(min(BATCH, count - len(opened))):
            sock = socket.create_connection((HOST, port), timeout=10)
            sock.sendall(handshake())  # the message after the 101: uvicorn drops earlier frames
            batch.append(sock)
        selector = selectors.DefaultSelector()
        buffers = {}
        for sock in batch:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            buffers[sock] = b""
        pending = set(batch)
        while pending:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(opened)} WebSockets opened in {DEADLINE_S} s")
            for key, _ in selector.select(1.0):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                chunk = sock.recv(4096)
                if not chunk:
                    raise SystemExit("a server closed a WebSocket while opening")
                buffers[sock] += chunk
                data = buffers[sock]
                if not data.startswith(b"HTTP/1.1 101"):
                    raise SystemExit(f"{len(opened)} open, then not upgraded: {data[:40]!r}")
                head_end = data.find(b"\r\n\r\n")
                if head_end > 0 and data.endswith(b"\r\n\r\n"):
                    sock.sendall(frame(b"hi"))
                elif head_end > 0 and data.endswith(b"hi"):
                    selector.unregister(sock)
                    pending.discard(sock)
        selector.close()
        opened.extend(batch)
    return opened


def probe_ms(port: int) -> float:
    start = time.perf_counter()
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(handshake())
        read_until(sock, b"\r\n\r\n", time.monotonic() + 10)
        sock.sendall(frame(b"probe"))
        read_until(sock, b"probe", time.monotonic() + 10)
    return (time.perf_counter() - start) * 1000


def round_trips_per_s(port: int, duration_s: float) -> float:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(handshake())
        read_until(sock, b"\r\n\r\n", time.monotonic() + 10)
        message = frame(b"x" * 16)
        count = 0
        end = time.perf_counter() + duration_s
        while time.perf_counter() < end:
            sock.sendall(message)
            got = 0
            while got < 18:  # 2 header bytes + 16 payload bytes, unmasked
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("closed")
                got += len(chunk)
            count += 1
    return count / duration_s


def measure(name: str, args: argparse.Namespace) -> dict[str, float]:
    with running(name, args.peer_python) as (process, port):
        probe_ms(port)  # warm up
        rss_before, threads_before = rss_mib_and_threads(process.pid)
        sockets = open_idle(port, args.connections)
        time.sleep(1.0)  # let the server settle before reading its memory
        rss_after, threads_after = rss_mib_and_threads(process.pid)
        probes = [probe_ms(port) for _ in range(args.probes)]
        rate = round_trips_per_s(port, args.duration)
        for sock in sockets:
            sock.close()
    result = {
        "rss_before_mib": rss_before,
        "rss_idle_mib": rss_after,
        "threads_before": threads_before,
        "threads_idle": threads_after,
        "probe_median_ms": statistics.median(probes),
        "probe_max_ms": max(probes),
        "echo_round_trips_per_s": rate,
    }
    print(
        f"{name:9} {args.connections} idle: RSS {rss_before:.0f} -> {rss_after:.0f} MiB,"
        f" threads {threads_before} -> {threads_after}; new client (handshake + echo)"
        f" median {result['probe_median_ms']:.1f} ms, max {result['probe_max_ms']:.1f} ms;"
        f" echo {rate:,.0f} round trips/s",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="barehttp,uvicorn")
    parser.add_argument("--connections", type=int, default=9_000)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--peer-python", default=str(BENCH / ".venv" / "bin" / "python"))
    args = parser.parse_args()
    # Room for the connections here and in the servers (inherited): barehttp keeps two
    # descriptors a connection (fd_limits.py); raising the hard limit needs root.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * args.connections + 1_000
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    os.sched_setaffinity(0, {int(CLIENT_CPU)})
    results = {name: measure(name, args) for name in args.servers.split(",")}
    if "barehttp" in results and "uvicorn" in results:
        ours, peer = results["barehttp"], results["uvicorn"]
        grown = (ours["rss_idle_mib"] - ours["rss_before_mib"]) / max(
            0.1, peer["rss_idle_mib"] - peer["rss_before_mib"]
        )
        echo = ours["echo_round_trips_per_s"] / peer["echo_round_trips_per_s"]
        print(f"barehttp/uvicorn: memory for the idle WebSockets {grown:.2f}x, echo {echo:.2f}x")


if __name__ == "__main__":
    main()
