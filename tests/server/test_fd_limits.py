"""Descriptor limits: raised at start-up, connections capped below them, accept() backs off.

The servers run as child processes under a low RLIMIT_NOFILE (systemd's default
soft limit is 1,024), set with ``resource.setrlimit`` before they start.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from barehttp.server.fd_limits import AcceptBackoff
from tests.server.rawhttp import ResponseReader, connect

REPO = Path(__file__).resolve().parents[2]
# Far below forever, which a client left in the backlog behind 1,100 held connections
# would wait; far above what an answer takes on a loaded machine.
ANSWERED_WITHIN_S = 10.0


@dataclass
class Child:
    process: subprocess.Popen[str]
    port: int

    def get(self, path: str, timeout: float = ANSWERED_WITHIN_S) -> tuple[int, bytes]:
        with connect("127.0.0.1", self.port, timeout) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            response = ResponseReader(sock).read_response()
            return response.status, response.body


@contextlib.contextmanager
def child_server(soft: int, hard: int) -> Iterator[Child]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    process = subprocess.Popen(
        [sys.executable, "-m", "tests.server.fd_child"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("port "), line
        yield Child(process, int(line.split()[1]))
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def accept_failures(child: Child) -> int:
    assert child.process.stderr is not None
    return child.process.stderr.read().count("accept failed")


def test_soft_limit_is_raised_to_the_hard_limit() -> None:
    with child_server(256, 4_096) as child:
        status, body = child.get("/limits")
        soft, cap = (int(word) for word in body.split())
    assert (status, soft) == (200, 4_096)
    assert 1_500 < cap < 2_048  # two descriptors a connection, less the reserve


def test_half_open_flood_under_1024_descriptors_gets_503_and_recovers() -> None:
    attackers: list[socket.socket] = []
    with child_server(1_024, 1_024) as child:
        try:
            for _ in range(1_100):
                attackers.append(connect("127.0.0.1", child.port, 10.0))
            started = time.monotonic()
            status, _ = child.get("/")  # answered, never left waiting in the backlog
            assert status == 503
            assert time.monotonic() - started < ANSWERED_WITHIN_S
        finally:
            for sock in attackers:
                sock.close()
        deadline = time.monotonic() + 3 * ANSWERED_WITHIN_S
        while child.get("/")[0] != 200:
            assert time.monotonic() < deadline, "the server did not recover"
        child.process.stdin.close()  # type: ignore[union-attr]
        child.process.wait(timeout=10)
        assert accept_failures(child) == 0


def test_accept_out_of_descriptors_backs_off_and_logs_once_a_second() -> None:
    with child_server(1_024, 1_024) as child:
        hog = connect("127.0.0.1", child.port, 10.0)
        hog.sendall(b"GET /hog?seconds=2 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert child.process.stdout is not None
        assert child.process.stdout.readline().strip() == "hogging"
        waiting = [connect("127.0.0.1", child.port, 10.0) for _ in range(5)]
        for sock in waiting:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert ResponseReader(hog).read_response().body == b"freed"
        for sock in waiting:  # queued by the kernel, served once descriptors were freed
            assert ResponseReader(sock).read_response().body == b"hello"
            sock.close()
        hog.close()
        child.process.stdin.close()  # type: ignore[union-attr]
        child.process.wait(timeout=10)
        assert 1 <= accept_failures(child) <= 3  # ~2 s of failures: not one every 50 ms


def test_backoff_logs_at_most_once_a_second(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    backoff = AcceptBackoff(clock=lambda: now[0])
    error = OSError(24, "Too many open files")
    waits = []
    with caplog.at_level(logging.WARNING, logger="barehttp.server"):
        for _ in range(100):
            waits.append(backoff.failed(error))
            now[0] += 0.05  # five seconds in all
    assert len(caplog.records) == 5
    assert waits[0] == AcceptBackoff.MIN_WAIT_S
    assert max(waits) == AcceptBackoff.MAX_WAIT_S
    backoff.succeeded()
    assert backoff.failed(error) == AcceptBackoff.MIN_WAIT_S
