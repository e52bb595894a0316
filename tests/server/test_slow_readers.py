"""Slow readers hold no worker: the reactor sends the end of their responses.

Each test runs a server with one worker thread. A client that asks for a large
response and then does not read leaves its socket buffer full; after
``linger_s`` the worker hands the rest of the response to the reactor and
serves others. Without that, the next client would wait for the slow one's
``write_timeout_s``.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import socket
import threading
import time

import pytest

from barehttp.server.handler import Exchange
from barehttp.server.listener import ACCEPTOR_EXTRA_DESCRIPTORS
from tests.server.conftest import WAIT_S, OffsetClock, RunningServer, StartServer, wait_for
from tests.server.rawhttp import ResponseReader

FILE_SIZE = 8 * 1_048_576  # far beyond any socket buffer
HELLO = b"hello"
WRITE_TIMEOUT_S = 30.0  # what a blocked worker would wait: well past every check below
SERVED_WITHIN_S = 10.0  # a loaded machine may be slow; never as slow as WRITE_TIMEOUT_S
IDLE_TIMEOUT_S = 60.0  # reached only by moving the clock (OffsetClock)


class FileHandler:
    """``/file``: sent with send_file; ``/bytes``: a body in memory; ``/written``: a body
    written in two parts; else hello."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __call__(self, exchange: Exchange) -> None:
        if exchange.head.path == "/file":
            with self.path.open("rb") as file:  # closed when the handler returns
                exchange.start_response(200, [], content_length=FILE_SIZE)
                exchange.send_file(file, 0, FILE_SIZE)
                exchange.end()
        elif exchange.head.path == "/bytes":
            exchange.send_response(200, [], self.path.read_bytes())
        elif exchange.head.path == "/written":  # as a WSGI app's body with a Content-Length
            body = self.path.read_bytes()
            exchange.start_response(200, [], content_length=len(body))
            exchange.write(body[:1_000])
            exchange.write(body[1_000:])  # completes the body: handed over if need be
            exchange.end()
        else:
            exchange.send_response(200, [], HELLO)


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, str]:
    path = tmp_path_factory.mktemp("slow") / "big.bin"
    data = os.urandom(FILE_SIZE)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def slow_client(server: RunningServer) -> socket.socket:
    """A connection with a small receive buffer, so that the server's send stalls."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
    sock.settimeout(10.0)
    sock.connect((server.host, server.port))
    server.sockets.append(sock)
    return sock


def one_thread_server(
    start_server: StartServer, path: pathlib.Path, **limits: float
) -> RunningServer:
    overrides = {"worker_threads": 1, "write_timeout_s": WRITE_TIMEOUT_S, **limits}
    return start_server(FileHandler(path), access_log=False, **overrides)


def served_promptly(server: RunningServer) -> ResponseReader | None:
    """The reader of a GET answered within SERVED_WITHIN_S (its connection kept alive)."""
    started = time.monotonic()
    response, reader = server.send(
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", timeout=SERVED_WITHIN_S + 2
    )
    if response.body == HELLO and time.monotonic() - started < SERVED_WITHIN_S:
        return reader
    return None


def wait_handed_over(server: RunningServer, count: int = 1) -> None:
    """Until ``count`` connections are parked: a slow reader's rest of its response is
    with the reactor, and its worker free."""
    reactor = server.server.context.reactor
    wait_for(lambda: reactor.parked_count == count, f"{count} connections parked")


@pytest.mark.parametrize("path", ["/file", "/bytes", "/written"])
def test_a_slow_reader_does_not_hold_the_only_worker(
    start_server: StartServer, big_file: tuple[pathlib.Path, str], path: str
) -> None:
    file_path, digest = big_file
    clock = OffsetClock()
    # The clock moves on by twice the idle timeout while the response is out: more
    # than that for the response's write timeout.
    server = one_thread_server(
        start_server,
        file_path,
        idle_timeout_s=IDLE_TIMEOUT_S,
        write_timeout_s=10 * IDLE_TIMEOUT_S,
        clock=clock,
    )
    slow = slow_client(server)
    slow.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    wait_handed_over(server)  # its buffers are full; the worker has handed the rest over
    witness = served_promptly(server)
    assert witness is not None
    wait_handed_over(server, 2)  # the witness too, parked after its answer
    # The slow client then reads everything, intact, and the connection lives on:
    # the idle timeout counts from the end of the response, not from its start.
    clock.advance(IDLE_TIMEOUT_S + 1)  # while the response is still on its way
    assert witness.is_closed(timeout=WAIT_S)  # idle since its answer: a sweep ran since
    second_witness = served_promptly(server)  # idle from now on
    assert second_witness is not None
    wait_handed_over(server, 2)
    clock.advance(IDLE_TIMEOUT_S / 2)
    reader = ResponseReader(slow)
    response = reader.read_response()
    assert response.status == 200
    assert hashlib.sha256(response.body).hexdigest() == digest
    wait_handed_over(server, 2)  # both parked, idle; the slow one since the end of its answer
    clock.advance(IDLE_TIMEOUT_S / 2 + 1)  # past the witness's idle timeout, not the slow one's
    assert second_witness.is_closed(timeout=WAIT_S)  # a sweep ran since
    slow.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert reader.read_response().body == HELLO


def test_a_request_pipelined_behind_a_handed_over_response_is_served(
    start_server: StartServer, big_file: tuple[pathlib.Path, str]
) -> None:
    file_path, digest = big_file
    server = one_thread_server(start_server, file_path)
    slow = slow_client(server)
    slow.sendall(b"GET /file HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(0.3)
    reader = ResponseReader(slow)
    assert hashlib.sha256(reader.read_response().body).hexdigest() == digest
    assert reader.read_response().body == HELLO


def test_a_reader_that_stops_is_dropped_after_the_write_timeout(
    start_server: StartServer, big_file: tuple[pathlib.Path, str]
) -> None:
    file_path, _ = big_file
    fds_before = len(os.listdir("/proc/self/fd"))
    server = one_thread_server(start_server, file_path, write_timeout_s=1.0)
    stalled = slow_client(server)
    stalled.sendall(b"GET /file HTTP/1.1\r\nHost: t\r\n\r\n")
    assert server.wait_for_open_connections(1)
    assert server.wait_for_open_connections(0)  # closed by the reactor
    server.close_clients()
    # Its socket and the file descriptor the reactor kept are both closed: what is
    # left is the server's own (listeners and their acceptors', the reactor's two).
    held = len(server.server.addresses) * (1 + ACCEPTOR_EXTRA_DESCRIPTORS) + 2
    assert len(os.listdir("/proc/self/fd")) <= fds_before + held


def test_shutdown_waits_for_a_handed_over_response(
    start_server: StartServer, big_file: tuple[pathlib.Path, str]
) -> None:
    file_path, digest = big_file
    server = one_thread_server(start_server, file_path)
    slow = slow_client(server)
    slow.sendall(b"GET /file HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_handed_over(server)
    results: list[bool] = []
    drain = threading.Thread(target=lambda: results.append(server.server.shutdown(timeout=10)))
    drain.start()
    time.sleep(0.3)
    assert drain.is_alive()  # still waiting for the response to go out
    reader = ResponseReader(slow)
    response = reader.read_response()
    assert hashlib.sha256(response.body).hexdigest() == digest
    assert reader.is_closed()  # draining: closed after the response
    drain.join(10)
    assert results == [True]


def test_many_clients_at_mixed_speeds_all_get_intact_responses(
    start_server: StartServer, big_file: tuple[pathlib.Path, str]
) -> None:
    """Handed-over and direct responses interleave on few threads without mixing up."""
    file_path, digest = big_file
    # A request on a kept-alive connection may wait seconds for a worker on a loaded
    # machine: the idle timeout must not cut it meanwhile (not what this is about).
    server = start_server(
        FileHandler(file_path),
        access_log=False,
        worker_threads=4,
        write_timeout_s=WRITE_TIMEOUT_S,
        idle_timeout_s=IDLE_TIMEOUT_S,
    )
    failures: list[str] = []

    def client(index: int) -> None:
        try:
            sock = slow_client(server) if index % 2 else server.connect(timeout=10.0)
            reader = ResponseReader(sock)
            for round_ in range(3):
                path = ("/file", "/bytes", "/written", "/")[(index + round_) % 4]
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
                if index % 3 == 0:
                    time.sleep(0.2)  # a pause with a full buffer: handed over
                body = reader.read_response().body
                expected = HELLO if path == "/" else None
                if expected is not None and body != expected:
                    failures.append(f"client {index} {path}: {body[:20]!r}")
                elif expected is None and hashlib.sha256(body).hexdigest() != digest:
                    failures.append(f"client {index} {path}: {len(body)} bytes, wrong digest")
        except OSError as error:
            failures.append(f"client {index}: {error!r}")

    threads = [threading.Thread(target=client, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    server.close_clients()
    assert server.wait_for_open_connections(0)
