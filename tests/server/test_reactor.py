"""The reactor on its own: parking re-arms a registered socket, ownership is taken once.

Connections are stand-ins over real socket pairs; the reactor's epoll is real.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from barehttp.server.reactor import Reactor

WAIT_S = 5.0


class Parked:
    """A Parkable reader over one end of a socket pair; records what the reactor did."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.deadline = float("inf")
        self.resumed = threading.Event()
        self.expired = threading.Event()
        self.closed = threading.Event()
        self.resume_count = 0

    def fileno(self) -> int:
        return self.fd

    @property
    def is_writing(self) -> bool:
        return False

    def write_more(self) -> bool:
        raise AssertionError("not a writer")

    def write_finished(self) -> None:
        raise AssertionError("not a writer")

    def resume(self) -> None:
        self.sock.recv(100)
        self.resume_count += 1
        self.resumed.set()

    def expire(self) -> None:
        self.expired.set()
        self.close()

    def close(self) -> None:
        self.closed.set()
        self.sock.close()


@pytest.fixture
def reactor() -> Iterator[Reactor]:
    """A reactor and one worker thread taking its ready connections, as the pool's do."""
    running = Reactor(sweep_interval_s=0.01)
    stopping = threading.Event()

    def work() -> None:
        while not stopping.is_set():
            job = running.take_ready(0.01)
            if job is not None:
                job()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    yield running
    stopping.set()
    worker.join(WAIT_S)
    running.stop()


def parked_pair(reactor: Reactor) -> tuple[Parked, socket.socket]:
    ours, client = socket.socketpair()
    connection = Parked(ours)
    reactor.park(connection)
    return connection, client


def test_parked_again_is_resumed_again(reactor: Reactor) -> None:
    connection, client = parked_pair(reactor)
    with client:
        for round_number in (1, 2, 3):  # the second and third parkings re-arm (EPOLL_CTL_MOD)
            client.send(b"x")
            assert connection.resumed.wait(WAIT_S)
            assert connection.resume_count == round_number
            assert reactor.parked_count == 0
            connection.resumed.clear()
            reactor.park(connection)
        connection.close()


def test_not_resumed_before_bytes_arrive(reactor: Reactor) -> None:
    connection, client = parked_pair(reactor)
    with client:
        client.send(b"x")
        assert connection.resumed.wait(WAIT_S)
        connection.resumed.clear()
        reactor.park(connection)
        # One-shot: the event already reported must not resume it again.
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            assert not connection.resumed.is_set()
            time.sleep(0.01)
        assert reactor.parked_count == 1
        client.send(b"y")
        assert connection.resumed.wait(WAIT_S)
        connection.close()


def test_a_new_socket_on_a_closed_ones_fd_is_watched(reactor: Reactor) -> None:
    first, first_client = parked_pair(reactor)
    with first_client:
        first_client.send(b"x")
        assert first.resumed.wait(WAIT_S)
        fd = first.fd
        first.close()  # the kernel forgets it; the next socket may get the same number
    second, second_client = parked_pair(reactor)
    with second_client:
        assert second.fd == fd
        second_client.send(b"x")
        assert second.resumed.wait(WAIT_S)
        second.close()


def test_deadline_expires_once(reactor: Reactor) -> None:
    connection, client = parked_pair(reactor)
    with client:
        connection.deadline = time.monotonic()
        assert connection.expired.wait(WAIT_S)
        assert reactor.parked_count == 0
        assert not connection.resumed.is_set()


def test_close_all_closes_the_parked_and_refuses_later_ones(reactor: Reactor) -> None:
    connection, client = parked_pair(reactor)
    with client:
        reactor.close_all()
        assert connection.closed.is_set()
        late, late_client = parked_pair(reactor)
        with late_client:
            assert late.closed.is_set()
            assert reactor.parked_count == 0


class FakeClock:
    """The reactor's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowWriter(Parked):
    """A parked writer whose send is held until the test lets it finish."""

    def __init__(self, sock: socket.socket, while_writing: threading.Event) -> None:
        super().__init__(sock)
        self.writing = threading.Event()
        self._while_writing = while_writing
        self.closed_while_writing = False

    @property
    def is_writing(self) -> bool:
        return True

    def write_more(self) -> bool:
        self.writing.set()
        assert self._while_writing.wait(WAIT_S)  # the sweep runs meanwhile
        self.closed_while_writing = self.closed.is_set()
        return False  # not all sent: parked again

    def write_finished(self) -> None:
        raise AssertionError("never finishes here")


def test_the_sweep_does_not_close_a_writer_a_worker_is_sending_to() -> None:
    # A worker took the writer's EPOLLOUT and is inside write_more() when the
    # deadline passes: the sweep must leave it to the worker, which parks it again.
    clock = FakeClock()
    reactor = Reactor(sweep_interval_s=0.005, clock=clock)
    swept = threading.Event()
    ours, client = socket.socketpair()  # writable at once: its event comes at the first wait
    marker_ours, marker_client = socket.socketpair()
    writer = SlowWriter(ours, swept)
    marker = Parked(marker_ours)  # its expiry tells that a sweep ran past the deadline
    marker.expired = swept
    try:
        writer.deadline = marker.deadline = 10.0
        reactor.park_writer(writer)
        reactor.park(marker)
        worker = threading.Thread(target=lambda: reactor.take_ready(WAIT_S), daemon=True)
        worker.start()
        assert writer.writing.wait(WAIT_S)
        clock.now = 11.0  # both deadlines passed: the next sweep expires what it owns
        worker.join(WAIT_S)
        assert not worker.is_alive()
        assert swept.is_set()  # a sweep ran while the worker was sending
        assert not writer.closed_while_writing
        assert not writer.expired.is_set()
        assert reactor.parked_count == 1  # parked again by the worker, for the next sweep
        assert writer.expired.wait(WAIT_S)  # now that nobody sends, its deadline counts
    finally:
        reactor.stop()
        client.close()
        marker_client.close()
