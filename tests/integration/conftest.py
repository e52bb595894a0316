"""Fixtures running barehttp as a real subprocess; each test stops only what it started."""

from __future__ import annotations

import contextlib
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

APPS = pathlib.Path(__file__).parent / "apps"
STARTUP_TIMEOUT_S = 20.0
EXIT_TIMEOUT_S = 30.0  # a process exiting (or a CLI run) on a loaded machine
LOG_TIMEOUT_S = 20.0


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A server subprocess; stderr goes to a file so nothing blocks on a full pipe."""

    process: subprocess.Popen[bytes]
    port: int
    stderr_path: pathlib.Path
    tls: bool = False  # started with --certfile: its port is the https one

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_until_listening(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Wait for the server's ``listening on`` line (with workers: the supervisor's);
        ``port`` is then the one it bound."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.stderr}")
            # A TLS server's own port, not that of its plain-HTTP redirect.
            scheme = "https" if self.tls else "http"
            if match := re.search(rf"listening on {scheme}://127\.0\.0\.1:(\d+)", self.stderr):
                self.port = int(match.group(1))
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"server not listening after {timeout} s:\n{self.stderr}")
            time.sleep(0.05)

    def wait_for_log(self, text: str, timeout: float = LOG_TIMEOUT_S) -> None:
        """Wait until ``text`` is in the server's stderr (a line logged by another thread)."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} after {timeout} s in:\n{self.stderr}")
            time.sleep(0.02)

    def wait_for_workers(self, count: int, timeout: float = LOG_TIMEOUT_S) -> set[int]:
        """The PIDs of ``count`` worker processes, once the supervisor logged each one
        as started (forked and serving: a child may still be loading the app)."""
        deadline = time.monotonic() + timeout
        while True:
            children = pathlib.Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids = {int(pid) for pid in children.read_text().split()}
            stderr = self.stderr
            if len(pids) == count and all(f"worker {pid} started" in stderr for pid in pids):
                return pids
            if time.monotonic() > deadline:
                raise AssertionError(f"not {count} started workers after {timeout} s:\n{stderr}")
            time.sleep(0.05)

    def signal(self, signum: signal.Signals = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = EXIT_TIMEOUT_S) -> int:
        return self.process.wait(timeout=timeout)


SpawnServer = Callable[..., ServerProcess]


@pytest.fixture
def spawn_server(tmp_path: pathlib.Path) -> Iterator[SpawnServer]:
    """``spawn_server(*argv_after_python, wait=True)`` starts and waits for a server.

    The argument list follows ``sys.executable``; ``{port}`` in it is replaced by 0:
    the server binds a port of the kernel's choice and ``wait_until_listening`` reads
    it from the log (a port picked here and bound later could be taken meanwhile).
    Processes still running at the end get SIGTERM, then SIGKILL, by PID.
    """
    started: list[ServerProcess] = []

    def spawn(*arguments: str, wait: bool = True) -> ServerProcess:
        port = 0  # known once the server logged it
        stderr_path = tmp_path / f"stderr-{len(started)}.log"
        argv = [sys.executable, *(argument.format(port=port) for argument in arguments)]
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        server = ServerProcess(process, port, stderr_path, tls="--certfile" in arguments)
        started.append(server)
        if wait:
            server.wait_until_listening()
        return server

    yield spawn
    for server in started:
        if server.process.poll() is None:
            server.signal(signal.SIGTERM)  # a supervisor then stops its workers too
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.process.wait(timeout=EXIT_TIMEOUT_S)
        if server.process.poll() is None:
            server.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=EXIT_TIMEOUT_S)
