"""websocket_idle.py's clients: new ones timed (probes), and the processes holding idle ones.

The holders are websocket_holder.py processes, driven a line at a time
over their stdin and stdout; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from harness import BENCH_DIR, HOST, LOAD_CPU, pinned
from idle_client import build_request, is_complete_response, is_ok_response
from websocket_client import OPCODE_TEXT, echo_once, masked_frame, open_websocket

PROBE_TIMEOUT_S = 10.0
PROBE_MESSAGE = b"probe-16-bytes!!"


# --------------------------------------------------------------------------- probes


def http_probe(port: int) -> bool:
    """connect + GET / + the whole response; True on a 200."""
    with socket.create_connection((HOST, port), timeout=PROBE_TIMEOUT_S) as sock:
        sock.sendall(build_request(port))
        buffer = bytearray()
        while not is_complete_response(buffer):
            data = sock.recv(65_536)
            if not data:
                break
            buffer += data
    return is_complete_response(buffer) and is_ok_response(buffer)


def websocket_probe(port: int) -> bool:
    """connect + handshake + one 16 B text echo; True when the echo is right."""
    sock, early = open_websocket(port, PROBE_TIMEOUT_S)
    with contextlib.closing(sock):
        answer = echo_once(sock, masked_frame(OPCODE_TEXT, PROBE_MESSAGE), early)
    return answer == (OPCODE_TEXT, PROBE_MESSAGE)


def time_probes(probe: Callable[[int], bool], port: int, count: int) -> tuple[list[float], int]:
    """``count`` probes one after another; latencies (ms) of the good ones, and failures."""
    latencies: list[float] = []
    failures = 0
    for _ in range(count):
        started = time.perf_counter()
        try:
            ok = probe(port)
        except Exception:
            ok = False
        if ok:
            latencies.append((time.perf_counter() - started) * 1000)
        else:
            failures += 1
        time.sleep(0.02)  # a client arriving now and then, not a load
    return latencies, failures


# --------------------------------------------------------------------------- holders


@dataclass(slots=True)
class Holder:
    """One client process holding idle WebSockets."""

    process: subprocess.Popen[str]

    def read_line(self, deadline: float) -> str:
        """The client's next line; '' if it exited or the deadline passed (it is then ended)."""
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(max(0.0, deadline - time.monotonic())):
                self.stop()
                return ""
        return self.process.stdout.readline().strip()

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()

    def stop(self) -> None:
        """``close``, then wait; SIGKILL by PID if it is still there."""
        if self.process.poll() is None:
            self.send("close")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_holders(
    port: int, connections: int, clients: int, max_seconds: int, pin: bool
) -> list[Holder]:
    holders = []
    share, remainder = divmod(connections, clients)
    for index in range(clients):
        count = share + (1 if index < remainder else 0)
        argv = [
            sys.executable,
            str(BENCH_DIR / "websocket_holder.py"),
            str(port),
            str(count),
            str(max_seconds),
        ]
        process = subprocess.Popen(
            pinned(argv, LOAD_CPU, pin),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=BENCH_DIR,
        )
        holders.append(Holder(process))
    return holders


def parse_counts(lines: Sequence[str], word: str) -> tuple[int, int]:
    """Sum ``WORD N failed M`` lines; a missing line counts as nothing done."""
    done = failed = 0
    for line in lines:
        parts = line.split()
        if len(parts) >= 4 and parts[0] == word:
            done += int(parts[1])
            failed += int(parts[3])
    return done, failed
