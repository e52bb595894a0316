"""Timeouts and capacity limits, with small values so each test takes about a second."""

from __future__ import annotations

import select
import socket
import threading
import time

from barehttp.server.exchange import ServerExchange
from barehttp.server.handler import Exchange
from tests.server.conftest import (
    LATE_S,
    LONG_S,
    WAIT_S,
    OffsetClock,
    RunningServer,
    StartServer,
    wait_for,
)
from tests.server.handlers import HELLO, TestHandler
from tests.server.rawhttp import ResponseReader
from tests.server.test_fake_clock import FakeClock

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
TRICKLE_INTERVAL_S = 0.2


def timed_get(server: RunningServer, path: str = "/", timeout: float = WAIT_S) -> tuple[int, float]:
    """(status, seconds) of one GET on a new connection."""
    started = time.monotonic()
    response, reader = server.send(
        b"GET %b HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode(), timeout=timeout
    )
    elapsed = time.monotonic() - started
    reader.sock.close()
    return response.status, elapsed


def seconds_until_closed(sock: socket.socket, timeout: float) -> float:
    """Wait for the server to close ``sock``; the time it took (fails after ``timeout``)."""
    started = time.monotonic()
    assert ResponseReader(sock).is_closed(timeout), f"still open after {timeout} s"
    return time.monotonic() - started


# -- idle and header timeouts ------------------------------------------------------
# These run on the real clock, end to end: each checks that the timeout fires, and not
# early. How soon after its deadline a connection goes is checked with a fake clock
# (test_fake_clock.py): on a loaded machine the sweep thread may run a second late.


def test_idle_keep_alive_connection_is_closed(start_server: StartServer) -> None:
    server = start_server(idle_timeout_s=0.5)
    sock = server.connect()
    started = time.monotonic()  # before the response: the idle time counts from its end
    sock.sendall(GET)
    reader = ResponseReader(sock)
    assert reader.read_response().body == HELLO
    seconds_until_closed(sock, timeout=WAIT_S)
    assert 0.5 <= time.monotonic() - started < LATE_S  # the idle timeout set, not the 5 s default
    assert server.wait_for_open_connections(0)


def test_connection_that_never_sends_is_closed(start_server: StartServer) -> None:
    # Its first request has the head's time (header_timeout_s), not the idle timeout.
    server = start_server(header_timeout_s=0.5, idle_timeout_s=30.0)
    sock = server.connect()
    elapsed = seconds_until_closed(sock, timeout=WAIT_S)
    assert elapsed < LATE_S  # the header timeout set, not the idle one nor the 10 s default
    assert sock.recv(1) == b""  # closed without a response: nothing was asked


class Trickler:
    """Sends request-head bytes one at a time, every 0.2 s, on many sockets (slowloris)."""

    HEAD = b"GET / HTTP/1.1\r\nHost: slow\r\nX-Padding: " + b"p" * 200 + b"\r\n\r\n"

    def __init__(self, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.sent = [0] * len(sockets)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Trickler:
        self._send_round()  # every socket is mid-head before this returns
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(TRICKLE_INTERVAL_S):
            self._send_round()

    def _send_round(self) -> None:
        for index, sock in enumerate(self.sockets):
            # Stop on a socket once the server answered: writing more would
            # make its kernel reset the connection and lose the answer.
            readable, _, _ = select.select([sock], [], [], 0)
            if readable or self.sent[index] >= len(self.HEAD):
                continue
            try:
                sock.send(self.HEAD[self.sent[index] : self.sent[index] + 1])
            except OSError:
                continue
            self.sent[index] += 1


def test_slowloris_gets_408_after_header_timeout(start_server: StartServer) -> None:
    server = start_server(header_timeout_s=1.0, idle_timeout_s=30.0)
    started = time.monotonic()  # before the server's count starts, at the accept
    sock = server.connect()
    with Trickler([sock]) as trickler:
        response = ResponseReader(sock).read_response()
        elapsed = time.monotonic() - started
        assert response.status == 408
        assert response.header("connection") == "close"
        assert 0 < trickler.sent[0] < len(Trickler.HEAD)
    # The whole head would take 45 s: the trickle does not push the deadline back.
    assert 0.9 <= elapsed < LATE_S
    assert seconds_until_closed(sock, timeout=LATE_S) < LATE_S


def test_slowloris_does_not_pin_workers(start_server: StartServer) -> None:
    # The header timeout is out of reach until the clock jumps: a pinned worker would
    # keep the normal clients waiting for good, not for a second or two.
    clock = OffsetClock()
    server = start_server(
        worker_threads=2, header_timeout_s=LONG_S, idle_timeout_s=LONG_S, clock=clock
    )
    attackers = [server.connect() for _ in range(10)]
    with Trickler(attackers) as trickler:
        assert all(sent > 0 for sent in trickler.sent)  # every attacker is mid-head now
        for _ in range(5):
            status, elapsed = timed_get(server)
            assert status == 200
            assert elapsed < LATE_S, f"normal client waited {elapsed:.2f} s behind slowloris"
        # Then every attacker is cut off with 408, not left open.
        clock.advance(LONG_S)
        for sock in attackers:
            response = ResponseReader(sock).read_response()
            assert response.status == 408
    assert server.wait_for_open_connections(0)


def send_body_paced(
    server: RunningServer, clock: FakeClock, sock: socket.socket, pieces: list[bytes], pause: float
) -> None:
    """Send ``pieces``, ``pause`` seconds of ``clock`` apart, each gathered by the server
    before the clock moves on (however late a thread runs, the pace is the same)."""
    context = server.server.context
    wait_for(lambda: context.reactor.parked_count == 1, "the body's gathering")
    sent = 0
    for piece in pieces:
        clock.advance(pause)
        sock.sendall(piece)
        sent += len(piece)
        if sent < sum(map(len, pieces)):  # the last piece completes the body: dispatched
            wait_for(lambda sent=sent: context.gathered_bytes == sent, f"{sent} bytes gathered")


def test_slow_but_steady_body_within_limits_is_accepted(start_server: StartServer) -> None:
    """The header timeout is for the head; a body may take longer if bytes keep coming."""
    # The rate floor is off here: this is about the silence timeout alone.
    clock = FakeClock()
    server = start_server(
        header_timeout_s=0.5, body_timeout_s=1.0, min_body_rate_bytes_per_s=0, clock=clock
    )
    sock = server.connect()
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n")
    # 1.6 s of the clock: past the header timeout, never silent for the body timeout.
    send_body_paced(server, clock, sock, [b"a", b"b", b"c", b"d"], pause=0.4)
    response = ResponseReader(sock).read_response()
    assert (response.status, response.body) == (200, b"abcd")


def test_body_trickled_below_the_minimum_rate_gets_408(start_server: StartServer) -> None:
    """A byte every 0.1 s never trips the silence timeout, but is far below 100 B/s."""
    clock = OffsetClock()  # the pace is the clock's jumps, however late the threads run
    server = start_server(body_timeout_s=0.5, min_body_rate_bytes_per_s=100, clock=clock)
    context = server.server.context
    sock = server.connect()
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
    wait_for(lambda: context.reactor.parked_count == 1, "the body's gathering")

    def answered() -> bool:
        return bool(select.select([sock], [], [], 0)[0])

    sent = 0
    while sent < 20 and not answered():  # 2 s of the clock at most
        clock.advance(0.1)
        try:
            sock.sendall(b"x")
        except OSError:  # the server answered and closed
            break
        sent += 1
        wait_for(
            lambda sent=sent: context.gathered_bytes == sent or answered(), "the byte gathered"
        )
    response = ResponseReader(sock).read_response()
    assert response.status == 408
    assert sent < 20  # 0.5 s of grace plus a few bytes' worth


def test_body_at_a_steady_rate_above_the_minimum_is_accepted(start_server: StartServer) -> None:
    clock = FakeClock()
    server = start_server(body_timeout_s=0.5, min_body_rate_bytes_per_s=100, clock=clock)
    sock = server.connect()
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 300\r\n\r\n")
    # 300 bytes in 0.6 s of the clock (past the 0.5 s of grace): 500 B/s.
    send_body_paced(server, clock, sock, [b"y" * 50] * 6, pause=0.1)
    response = ResponseReader(sock).read_response()
    assert (response.status, response.body) == (200, b"y" * 300)


def test_stalled_body_gets_408(start_server: StartServer) -> None:
    server = start_server(body_timeout_s=0.5)
    sock = server.connect()
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
    reader = ResponseReader(sock)
    started = time.monotonic()
    response = reader.read_response()
    assert response.status == 408
    assert time.monotonic() - started < LATE_S  # not the 30 s default
    assert reader.is_closed()


def fill_send_buffer(sock: socket.socket) -> None:
    """Queue bytes on ``sock`` until the kernel takes no more (the peer is not reading)."""
    for size in (65_536, 4_096, 256, 16, 1):
        try:
            while True:
                sock.send(b"x" * size, socket.MSG_DONTWAIT)
        except BlockingIOError:
            pass


def test_expiring_a_client_that_does_not_read_does_not_stall_the_reactor(
    start_server: StartServer,
) -> None:
    """The 408 for a timed-out head is written by the reactor thread; it must not wait.

    The attacker's receive window is shut (it never reads), so a blocking write of
    the 408 would hold the reactor for write_timeout_s, and with it every parked
    connection: none would be resumed or expired meanwhile.
    """
    captured: list[socket.socket] = []

    def handler(exchange: Exchange) -> None:
        assert isinstance(exchange, ServerExchange)
        captured.append(exchange.transport.sock)
        exchange.send_response(200, [], b"ok")

    # The head's timeout comes when the test moves the clock; a write that waited
    # would hold the reactor for write_timeout_s, longer than any wait below.
    clock = OffsetClock()
    server = start_server(
        handler,
        header_timeout_s=LONG_S,
        write_timeout_s=WAIT_S + LATE_S,
        idle_timeout_s=3 * LONG_S,
        clock=clock,
    )
    victim = server.connect()
    victim_reader = ResponseReader(victim)
    victim.sendall(GET)
    assert victim_reader.read_response().status == 200
    attacker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.sockets.append(attacker)
    attacker.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)  # a window soon shut
    attacker.settimeout(WAIT_S)
    attacker.connect((server.host, server.port))
    attacker.sendall(GET)  # answered, never read
    wait_for(
        lambda: len(captured) == 2 and server.server.context.reactor.parked_count == 2,
        "both connections parked",
    )
    fill_send_buffer(captured[1])  # parked: no worker touches this socket now
    time.sleep(0.1)
    fill_send_buffer(captured[1])  # what moved on to the client meanwhile
    attacker.sendall(b"GET / HT")  # an unfinished head: 408 after header_timeout_s
    reactor = server.server.context.reactor

    def parked_mid_head() -> bool:  # read by a worker, and parked again
        parked = list(reactor._parked.values())
        return any(
            getattr(c, "transport", None) is not None
            and c.transport.sock is captured[1]  # type: ignore[attr-defined]
            and c.reader.parser.is_mid_request  # type: ignore[attr-defined]
            for c in parked
        )

    wait_for(parked_mid_head, "the unfinished head parked")
    clock.advance(2 * LONG_S)  # the reactor expires the attacker at its next sweep
    # Gone at once, not after write_timeout_s; the reactor is free for the victim.
    assert server.wait_for_open_connections(1, timeout=WAIT_S)
    started = time.monotonic()
    victim.sendall(GET)
    assert victim_reader.read_response().status == 200
    assert time.monotonic() - started < LATE_S


# -- capacity ----------------------------------------------------------------------


def test_connections_beyond_max_connections_get_503(start_server: StartServer) -> None:
    server = start_server(max_connections=3, idle_timeout_s=30.0)
    held = [server.connect() for _ in range(3)]
    for sock in held:
        sock.sendall(GET)
        assert ResponseReader(sock).read_response().status == 200
    response, reader = server.send(GET)
    assert response.status == 503
    assert response.header("connection") == "close"
    assert reader.is_closed()
    # Once one connection closes, there is room again.
    held[0].close()
    assert server.wait_for_open_connections(2)
    assert timed_get(server)[0] == 200


def test_full_queue_gets_503_instead_of_hanging(start_server: StartServer) -> None:
    handler = TestHandler()
    server = start_server(handler, worker_threads=1, worker_queue_count=1, idle_timeout_s=30.0)
    blocked = server.connect()
    blocked.sendall(b"GET /block HTTP/1.1\r\nHost: t\r\n\r\n")
    assert handler.entered.wait(WAIT_S)  # the only worker is now busy
    queued = server.connect()
    queued.sendall(GET)  # takes the one queue slot
    # Accepted and queued: the acceptor queues it before it accepts the next one.
    assert server.wait_for_open_connections(2)
    started = time.monotonic()
    for _ in range(3):
        response, reader = server.send(GET)
        assert response.status == 503
        assert reader.is_closed()
    assert time.monotonic() - started < LATE_S  # answered, not left waiting for a worker
    handler.release.set()
    assert ResponseReader(blocked).read_response().body == b"released"
    assert ResponseReader(queued).read_response().body == HELLO
    assert timed_get(server)[0] == 200  # and the server recovers


def test_client_that_stops_reading_does_not_block_others(start_server: StartServer) -> None:
    size = 64 * 1_024 * 1_024  # far more than socket buffers hold
    # The write timeout comes when the test moves the clock, not while it checks others.
    clock = OffsetClock()
    server = start_server(worker_threads=2, write_timeout_s=LONG_S, clock=clock)
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
    stalled.settimeout(WAIT_S)
    stalled.connect((server.host, server.port))
    server.sockets.append(stalled)
    stalled.sendall(b"GET /big?size=%d HTTP/1.1\r\nHost: t\r\n\r\n" % size)
    # Its buffers are full: its worker handed the rest of the response to the reactor.
    reactor = server.server.context.reactor
    wait_for(lambda: reactor.parked_count == 1, "the response handed over")
    for _ in range(5):
        status, elapsed = timed_get(server)
        assert status == 200
        assert elapsed < LATE_S

    # After write_timeout_s the server gives up on the stalled client and closes.
    # (While kernel buffers still grow, sends progress and push the deadline back: the
    # clock moves on until the drop.)
    def dropped() -> bool:
        clock.advance(LONG_S)
        return server.server.context.open_connections == 0

    wait_for(dropped, "the stalled client dropped")
    received = 0
    try:
        while chunk := stalled.recv(1_048_576):
            received += len(chunk)
    except ConnectionResetError:
        pass
    assert received < size
