"""Fixtures: a real barehttp server on 127.0.0.1, raw client sockets, and curl."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from barehttp.protocol.limits import Limits
from barehttp.server.handler import Handler
from barehttp.server.server import Server
from tests.server.handlers import TestHandler
from tests.server.rawhttp import RawResponse, ResponseReader, connect

SHUTDOWN_TIMEOUT_S = 2.0
# Bound of every wait on the server (a client's socket, a count to reach): generous,
# since a loaded machine may not schedule a thread for a second or more, and a
# passing test returns as soon as the condition holds.
WAIT_S = 15.0
CURL_TIMEOUT_S = WAIT_S + 5.0
# Below every default timeout (5 s and more), well above the sub-second ones tests set:
# a sweep or a thread may run a second or two late on a loaded machine.
LATE_S = 4.0
LONG_S = 600.0  # a timeout no test reaches but by a jump of its clock


class OffsetClock:
    """The monotonic clock, plus the jumps a test makes: time passes as usual between."""

    def __init__(self) -> None:
        self._offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


@dataclass
class RunningServer:
    """A started server plus the client sockets a test opened on it (closed afterwards)."""

    server: Server
    handler: Handler
    host: str
    port: int
    sockets: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def connect(self, timeout: float = WAIT_S) -> socket.socket:
        sock = connect(self.host, self.port, timeout)
        self.sockets.append(sock)
        return sock

    def send(
        self, request: bytes, *, method: str = "GET", timeout: float = WAIT_S
    ) -> tuple[RawResponse, ResponseReader]:
        """Send raw ``request`` bytes on a new connection and read one response."""
        sock = self.connect(timeout)
        sock.sendall(request)
        reader = ResponseReader(sock)
        return reader.read_response(method=method), reader

    def wait_for_open_connections(self, count: int, timeout: float = WAIT_S) -> bool:
        """True once the server counts exactly ``count`` open connections."""
        deadline = time.monotonic() + timeout
        while self.server.context.open_connections != count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close_clients(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()


StartServer = Callable[..., RunningServer]


@contextlib.contextmanager
def server_factory() -> Iterator[StartServer]:
    """``start(handler=None, host="127.0.0.1", access_log=True, clock=time.monotonic,
    **limits)`` → RunningServer.

    Keyword arguments other than ``handler``, ``host``, ``access_log`` and ``clock``
    are ``Limits`` fields. Every server started is shut down on exit.
    """
    running: list[RunningServer] = []

    def start(
        handler: Handler | None = None,
        *,
        host: str = "127.0.0.1",
        access_log: bool = True,
        clock: Callable[[], float] = time.monotonic,
        **limit_overrides: Any,
    ) -> RunningServer:
        handler = handler if handler is not None else TestHandler()
        server = Server(
            handler,
            host=host,
            port=0,
            limits=Limits(**limit_overrides),
            access_log=access_log,
            clock=clock,
        )
        server.start()
        bound_host, port = server.addresses[0]
        instance = RunningServer(server, handler, bound_host, port)
        running.append(instance)
        return instance

    try:
        yield start
    finally:
        for instance in running:
            if isinstance(instance.handler, TestHandler):
                instance.handler.release.set()  # never leave a worker blocked past the test
            instance.close_clients()
            instance.server.shutdown(timeout=SHUTDOWN_TIMEOUT_S)


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start servers for one test; see :func:`server_factory`."""
    with server_factory() as start:
        yield start


@pytest.fixture(scope="module")
def start_module_server() -> Iterator[StartServer]:
    """Start servers shared by a module's tests (for long tables of cheap cases)."""
    with server_factory() as start:
        yield start


@pytest.fixture
def server(start_server: StartServer) -> RunningServer:
    """A server with default limits running :class:`TestHandler`."""
    return start_server()


@pytest.fixture(scope="session")
def curl_path() -> str:
    """curl is a required tool here: a missing curl fails the test, it is not skipped."""
    path = shutil.which("curl")
    assert path is not None, "curl is not installed; the integration tests need it"
    return path


CurlRun = Callable[..., subprocess.CompletedProcess[bytes]]


@pytest.fixture
def curl(curl_path: str) -> CurlRun:
    """Run curl with the given arguments; fails the test on a non-zero exit."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        result = subprocess.run(
            [curl_path, "--silent", "--show-error", "--max-time", str(WAIT_S), *args],
            capture_output=True,
            timeout=CURL_TIMEOUT_S,
            check=False,
        )
        if check:
            assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result

    return run
