"""Graceful shutdown of a real server process: SIGTERM drains, a second one forces exit."""

from __future__ import annotations

import pathlib
import signal
import socket
import threading
import time

import pytest

from tests.integration.conftest import APPS, ServerProcess, SpawnServer
from tests.server.rawhttp import RawResponse, ResponseReader

SLOW_APP = str(APPS / "slow_app.py")


class SlowRequest:
    """``GET /slow?seconds=S`` on its own thread; ``result`` holds the response or error."""

    def __init__(self, port: int, seconds: float) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=seconds + 10)
        self.sock.sendall(b"GET /slow?seconds=%.2f HTTP/1.1\r\nHost: t\r\n\r\n" % seconds)
        self.result: RawResponse | Exception | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = ResponseReader(self.sock).read_response()
        except Exception as error:
            self.result = error
        finally:
            self.done.set()

    def response(self, timeout: float) -> RawResponse:
        assert self.done.wait(timeout), "the slow request never finished"
        self.sock.close()
        assert isinstance(self.result, RawResponse), f"no response: {self.result!r}"
        return self.result


def start_slow_app(
    spawn_server: SpawnServer, hook_file: pathlib.Path, *extra: str
) -> ServerProcess:
    return spawn_server(SLOW_APP, "--port", "{port}", "--hook-file", str(hook_file), *extra)


def open_idle_keep_alive(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    response = ResponseReader(sock).read_response()
    assert (response.status, response.header("connection")) == (200, None)
    return sock


def wait_until_refused(port: int, timeout: float) -> bool:
    """True once connecting to ``port`` is refused (the listener is closed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            probe = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        except ConnectionRefusedError:
            return True
        probe.close()
        time.sleep(0.05)
    return False


def test_sigterm_drains_in_flight_request_then_exits_zero(
    spawn_server: SpawnServer, tmp_path: pathlib.Path
) -> None:
    hook_file = tmp_path / "hook.txt"
    server = start_slow_app(spawn_server, hook_file)
    idle = open_idle_keep_alive(server.port)
    slow = SlowRequest(server.port, seconds=2.5)
    time.sleep(0.3)  # the slow request is in its handler now
    server.signal(signal.SIGTERM)

    # While the slow request runs: idle connections are closed, new ones refused.
    assert ResponseReader(idle).is_closed(timeout=2.0), server.stderr
    idle.close()
    assert wait_until_refused(server.port, timeout=2.0)
    assert not slow.done.is_set(), "the in-flight request should still be running"
    assert server.process.poll() is None
    assert not hook_file.exists()  # hooks run after the drain, not before

    response = slow.response(timeout=10)
    assert (response.status, response.body) == (200, b"slept 2.5")
    assert response.header("connection") == "close"  # draining: nothing kept alive
    assert server.wait() == 0
    assert hook_file.read_text() == "hook ran\n"
    stderr = server.stderr
    assert "SIGTERM received: draining" in stderr
    assert "server stopped" in stderr
    assert '"GET /slow?seconds=2.50 HTTP/1.1" 200' in stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_server_stops_promptly(
    spawn_server: SpawnServer, tmp_path: pathlib.Path, signum: signal.Signals
) -> None:
    hook_file = tmp_path / "hook.txt"
    server = start_slow_app(spawn_server, hook_file)
    started = time.monotonic()
    server.signal(signum)
    assert server.wait() == 0
    assert time.monotonic() - started < 3.0  # signals are noticed within 0.5 s
    assert hook_file.read_text() == "hook ran\n"


def test_second_sigterm_during_drain_forces_exit(
    spawn_server: SpawnServer, tmp_path: pathlib.Path
) -> None:
    hook_file = tmp_path / "hook.txt"
    server = start_slow_app(spawn_server, hook_file)
    slow = SlowRequest(server.port, seconds=8)
    time.sleep(0.3)
    server.signal(signal.SIGTERM)
    time.sleep(0.7)  # draining now, waiting for the slow request
    assert server.process.poll() is None
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    status = server.wait(timeout=5)
    assert status != 0
    assert time.monotonic() - started < 2.0
    assert not hook_file.exists()  # a forced exit skips the drain and its hooks
    assert "second signal" in server.stderr
    assert slow.done.wait(5)
    assert not isinstance(slow.result, RawResponse)  # cut off, never answered


def test_shutdown_timeout_bounds_the_drain(
    spawn_server: SpawnServer, tmp_path: pathlib.Path
) -> None:
    hook_file = tmp_path / "hook.txt"
    server = start_slow_app(spawn_server, hook_file, "--shutdown-timeout", "0.5")
    SlowRequest(server.port, seconds=8)
    time.sleep(0.3)
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    server.wait(timeout=5)
    assert time.monotonic() - started < 3.0
    assert "shutdown deadline passed" in server.stderr
    assert hook_file.read_text() == "hook ran\n"  # hooks still run after the deadline
