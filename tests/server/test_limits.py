"""Timeouts and capacity limits, with small values so each test takes about a second."""

from __future__ import annotations

import select
import socket
import threading
import time

from barehttp.server.exchange import ServerExchange
from barehttp.server.handler import Exchange
from tests.server.conftest import RunningServer, StartServer
from tests.server.handlers import HELLO, TestHandler
from tests.server.rawhttp import ResponseReader

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
TRICKLE_INTERVAL_S = 0.2


def timed_get(server: RunningServer, path: str = "/", timeout: float = 5.0) -> tuple[int, float]:
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


def test_idle_keep_alive_connection_is_closed(start_server: StartServer) -> None:
    server = start_server(idle_timeout_s=0.5)
    sock = server.connect()
    sock.sendall(GET)
    reader = ResponseReader(sock)
    assert reader.read_response().body == HELLO
    elapsed = seconds_until_closed(sock, timeout=3.0)
    assert 0.4 <= elapsed <= 1.5  # idle timeout plus the reactor's sweep interval
    assert server.wait_for_open_connections(0)


def test_connection_that_never_sends_is_closed(start_server: StartServer) -> None:
    # Its first request has the head's time (header_timeout_s), not the idle timeout.
    server = start_server(header_timeout_s=0.5, idle_timeout_s=30.0)
    sock = server.connect()
    elapsed = seconds_until_closed(sock, timeout=3.0)
    assert elapsed <= 1.5
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
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(TRICKLE_INTERVAL_S):
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
    sock = server.connect()
    started = time.monotonic()
    with Trickler([sock]) as trickler:
        response = ResponseReader(sock).read_response()
        elapsed = time.monotonic() - started
        assert response.status == 408
        assert response.header("connection") == "close"
        assert 0 < trickler.sent[0] < len(Trickler.HEAD)
    assert 0.9 <= elapsed <= 2.0
    assert seconds_until_closed(sock, timeout=1.0) < 1.0


def test_slowloris_does_not_pin_workers(start_server: StartServer) -> None:
    server = start_server(worker_threads=2, header_timeout_s=1.5, idle_timeout_s=30.0)
    attackers = [server.connect() for _ in range(10)]
    with Trickler(attackers) as trickler:
        time.sleep(0.5)  # every attacker is mid-head now
        assert all(sent > 0 for sent in trickler.sent)
        for _ in range(5):
            status, elapsed = timed_get(server)
            assert status == 200
            assert elapsed < 1.0, f"normal client waited {elapsed:.2f} s behind slowloris"
        # Then every attacker is cut off with 408, not left open.
        for sock in attackers:
            response = ResponseReader(sock).read_response()
            assert response.status == 408
    assert server.wait_for_open_connections(0)


def test_slow_but_steady_body_within_limits_is_accepted(start_server: StartServer) -> None:
    """The header timeout is for the head; a body may take longer if bytes keep coming."""
    # The rate floor is off here: this is about the silence timeout alone.
    server = start_server(header_timeout_s=0.5, body_timeout_s=1.0, min_body_rate_bytes_per_s=0)
    sock = server.connect()
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n")
    for byte in b"abcd":
        time.sleep(0.25)
        sock.sendall(bytes([byte]))
    response = ResponseReader(sock).read_response()
    assert (response.status, response.body) == (200, b"abcd")


def test_body_trickled_below_the_minimum_rate_gets_408(start_server: StartServer) -> None:
    """A byte every 0.1 s never trips the silence timeout, but is far below 100 B/s."""
    server = start_server(body_timeout_s=0.5, min_body_rate_bytes_per_s=100)
    sock = server.connect()
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
    started = time.monotonic()
    answered = False
    for _ in range(50):  # at most 5 s of trickling
        try:
            sock.sendall(b"x")
        except OSError:  # the server answered and closed
            break
        readable, _, _ = select.select([sock], [], [], 0.1)
        if readable:
            answered = True
            break
    assert answered or time.monotonic() - started < 5.0
    response = ResponseReader(sock).read_response()
    assert response.status == 408
    assert time.monotonic() - started < 2.0  # 0.5 s of grace plus a few bytes' worth


def test_body_at_a_steady_rate_above_the_minimum_is_accepted(start_server: StartServer) -> None:
    server = start_server(body_timeout_s=0.5, min_body_rate_bytes_per_s=100)
    sock = server.connect()
    sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 300\r\n\r\n")
    for _ in range(6):  # 300 bytes in about 0.6 s: 500 B/s
        sock.sendall(b"y" * 50)
        time.sleep(0.1)
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
    assert time.monotonic() - started < 2.0
    assert reader.is_closed(timeout=3.0)


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

    server = start_server(handler, header_timeout_s=0.5, write_timeout_s=5.0, idle_timeout_s=30.0)
    victim = server.connect()
    victim_reader = ResponseReader(victim)
    victim.sendall(GET)
    assert victim_reader.read_response().status == 200
    attacker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.sockets.append(attacker)
    attacker.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)  # a window soon shut
    attacker.settimeout(5)
    attacker.connect((server.host, server.port))
    attacker.sendall(GET)  # answered, never read
    deadline = time.monotonic() + 3.0
    while len(captured) < 2 or server.server.context.reactor.parked_count < 2:
        assert time.monotonic() < deadline, "connections were not parked"
        time.sleep(0.02)
    fill_send_buffer(captured[1])  # parked: no worker touches this socket now
    time.sleep(0.1)
    fill_send_buffer(captured[1])  # what moved on to the client meanwhile
    attacker.sendall(b"GET / HT")  # an unfinished head: 408 after header_timeout_s
    time.sleep(1.0)  # the reactor expires the attacker during this
    started = time.monotonic()
    victim.sendall(GET)
    assert victim_reader.read_response().status == 200
    assert time.monotonic() - started < 1.0
    assert server.wait_for_open_connections(1, timeout=1.0)  # the attacker is gone


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
    assert handler.entered.wait(5)  # the only worker is now busy
    queued = server.connect()
    queued.sendall(GET)  # takes the one queue slot
    time.sleep(0.1)
    started = time.monotonic()
    for _ in range(3):
        response, reader = server.send(GET, timeout=3.0)
        assert response.status == 503
        assert reader.is_closed()
    assert time.monotonic() - started < 1.0
    handler.release.set()
    assert ResponseReader(blocked).read_response().body == b"released"
    assert ResponseReader(queued).read_response().body == HELLO
    assert timed_get(server)[0] == 200  # and the server recovers


def test_client_that_stops_reading_does_not_block_others(start_server: StartServer) -> None:
    size = 64 * 1_024 * 1_024  # far more than socket buffers hold
    server = start_server(worker_threads=2, write_timeout_s=1.0)
    stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
    stalled.settimeout(5)
    stalled.connect((server.host, server.port))
    server.sockets.append(stalled)
    stalled.sendall(b"GET /big?size=%d HTTP/1.1\r\nHost: t\r\n\r\n" % size)
    time.sleep(0.3)  # its worker is now stuck in send()
    for _ in range(5):
        status, elapsed = timed_get(server)
        assert status == 200
        assert elapsed < 0.5
    # After write_timeout_s the server gives up on the stalled client and closes.
    # (SO_SNDTIMEO bounds each stalled send(); while kernel buffers still grow, sends
    # progress, so the drop comes a few seconds after write_timeout_s, not at once.)
    assert server.wait_for_open_connections(0, timeout=6.0)
    received = 0
    try:
        while chunk := stalled.recv(1_048_576):
            received += len(chunk)
    except ConnectionResetError:
        pass
    assert received < size
