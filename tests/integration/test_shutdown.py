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
# Longer than any wait below: a server that waited for it would fail the test.
SLOW_REQUEST_S = 60
# Waits for what a loaded machine may delay; a passing test returns at once.
WAIT_S = 20.0


class SlowRequest:
    """``GET target`` on its own thread; ``result`` holds the response or error."""

    def __init__(self, port: int, target: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=SLOW_REQUEST_S + 10)
        self.sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % target.encode())
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


def start_slow_request(server: ServerProcess) -> SlowRequest:
    """A ``/slow`` request far longer than any test, once it is in its handler."""
    slow = SlowRequest(server.port, f"/slow?seconds={SLOW_REQUEST_S}")
    server.wait_for_log("slow request started")
    return slow


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
    server = start_slow_app(spawn_server, hook_file, "--shutdown-timeout", str(SLOW_REQUEST_S))
    idle = open_idle_keep_alive(server.port)
    held = SlowRequest(server.port, "/held")  # answers once the test releases it
    server.wait_for_log("held request started")
    server.signal(signal.SIGTERM)

    # While the held request runs: idle connections are closed, new ones refused.
    assert ResponseReader(idle).is_closed(timeout=WAIT_S), server.stderr
    idle.close()
    assert wait_until_refused(server.port, timeout=WAIT_S)
    server.wait_for_log("SIGTERM received: draining")
    assert not held.done.is_set(), "the in-flight request should still be running"
    assert server.process.poll() is None
    assert not hook_file.exists()  # hooks run after the drain, not before

    (tmp_path / "hook.txt.release").touch()
    response = held.response(timeout=WAIT_S)
    assert (response.status, response.body) == (200, b"released")
    assert response.header("connection") == "close"  # draining: nothing kept alive
    assert server.wait(timeout=WAIT_S) == 0
    assert hook_file.read_text() == "hook ran\n"
    stderr = server.stderr
    assert "server stopped" in stderr
    assert '"GET /held HTTP/1.1" 200' in stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_server_stops_promptly(
    spawn_server: SpawnServer, tmp_path: pathlib.Path, signum: signal.Signals
) -> None:
    hook_file = tmp_path / "hook.txt"
    server = start_slow_app(spawn_server, hook_file)
    server.signal(signum)
    assert server.wait(timeout=WAIT_S) == 0  # signals are noticed within 0.5 s
    assert hook_file.read_text() == "hook ran\n"


def test_second_sigterm_during_drain_forces_exit(
    spawn_server: SpawnServer, tmp_path: pathlib.Path
) -> None:
    hook_file = tmp_path / "hook.txt"
    # The drain alone would wait for the slow request (longer than WAIT_S).
    server = start_slow_app(spawn_server, hook_file, "--shutdown-timeout", str(SLOW_REQUEST_S))
    slow = start_slow_request(server)
    server.signal(signal.SIGTERM)
    server.wait_for_log("SIGTERM received: draining")
    assert server.process.poll() is None
    server.signal(signal.SIGTERM)
    status = server.wait(timeout=WAIT_S)
    assert status != 0
    assert not hook_file.exists()  # a forced exit skips the drain and its hooks
    assert "second signal" in server.stderr
    assert slow.done.wait(WAIT_S)
    assert not isinstance(slow.result, RawResponse)  # cut off, never answered


def test_shutdown_timeout_bounds_the_drain(
    spawn_server: SpawnServer, tmp_path: pathlib.Path
) -> None:
    hook_file = tmp_path / "hook.txt"
    server = start_slow_app(spawn_server, hook_file, "--shutdown-timeout", "0.5")
    start_slow_request(server)
    server.signal(signal.SIGTERM)
    server.wait(timeout=WAIT_S)  # far less than the slow request
    assert "shutdown deadline passed" in server.stderr
    assert hook_file.read_text() == "hook ran\n"  # hooks still run after the deadline
