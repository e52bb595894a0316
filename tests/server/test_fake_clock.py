"""Connection deadlines follow the server's clock: a fake one drives them without sleeping.

Every timeout here is far longer than the test could ever take in real time, so
only the fake clock can make it pass; the real end-to-end timeout tests stay in
test_limits.py and its neighbours. The reactor sweeps often (reactor_sweep_s),
and each test waits on a condition (parked, closed, answered), never a fixed time.
"""

from __future__ import annotations

import threading
import time

from tests.server.conftest import RunningServer, StartServer
from tests.server.handlers import HELLO
from tests.server.rawhttp import ResponseReader

LONG_S = 600.0  # no test runs this long: only the fake clock reaches it
GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
WAIT_S = 10.0  # bound of every condition wait


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self._now = 1_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def start(start_server: StartServer, clock: FakeClock, **limits: float) -> RunningServer:
    overrides = {
        "idle_timeout_s": LONG_S,
        "header_timeout_s": LONG_S,
        "body_timeout_s": LONG_S,
        "reactor_sweep_s": 0.01,
        **limits,
    }
    return start_server(clock=clock, access_log=False, **overrides)


def wait_parked(server: RunningServer, count: int = 1) -> None:
    reactor = server.server.context.reactor
    deadline = time.monotonic() + WAIT_S
    while reactor.parked_count != count:
        assert time.monotonic() < deadline, f"{reactor.parked_count} parked, not {count}"
        time.sleep(0.005)


def test_idle_timeout_follows_the_clock(start_server: StartServer) -> None:
    clock = FakeClock()
    server = start(start_server, clock)
    sock = server.connect()
    sock.sendall(GET)
    reader = ResponseReader(sock)
    assert reader.read_response().body == HELLO
    wait_parked(server)
    clock.advance(LONG_S / 2)  # half the idle timeout: still open, and still answering
    sock.sendall(GET)
    assert reader.read_response().body == HELLO
    wait_parked(server)
    clock.advance(LONG_S / 2)  # the idle timeout counts from the last response
    sock.sendall(GET)
    assert reader.read_response().body == HELLO
    wait_parked(server)
    clock.advance(LONG_S + 1)
    assert reader.is_closed(timeout=WAIT_S)
    assert server.wait_for_open_connections(0, timeout=WAIT_S)


def test_header_timeout_follows_the_clock(start_server: StartServer) -> None:
    clock = FakeClock()
    server = start(start_server, clock)
    sock = server.connect()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow:")  # a head that never ends
    wait_parked(server)
    clock.advance(LONG_S + 1)
    reader = ResponseReader(sock)
    assert reader.read_response().status == 408
    assert reader.is_closed(timeout=WAIT_S)


def test_body_timeout_follows_the_clock(start_server: StartServer) -> None:
    clock = FakeClock()
    server = start(start_server, clock, min_body_rate_bytes_per_s=0)
    sock = server.connect()
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab")
    wait_parked(server)  # gathering the body, no worker
    clock.advance(LONG_S + 1)
    reader = ResponseReader(sock)
    assert reader.read_response().status == 408
    assert reader.is_closed(timeout=WAIT_S)


def test_a_first_request_has_the_head_time_not_the_idle_timeout(start_server: StartServer) -> None:
    """A new connection is not an idle keep-alive one: a client held up between
    connect() and send() for longer than idle_timeout_s is still answered."""
    clock = FakeClock()
    server = start(start_server, clock, idle_timeout_s=5.0)
    witness = server.connect()  # answered once: from now on an idle keep-alive connection
    witness.sendall(GET)
    witness_reader = ResponseReader(witness)
    assert witness_reader.read_response().body == HELLO
    fresh = server.connect()
    wait_parked(server, 2)
    clock.advance(LONG_S / 2)  # far past the idle timeout, within the head's time
    assert witness_reader.is_closed(timeout=WAIT_S)  # a sweep ran after the advance
    fresh.sendall(GET)
    assert ResponseReader(fresh).read_response().body == HELLO
