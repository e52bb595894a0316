"""Reactor: parked connections in one epoll, so idle clients cost no thread.

A worker serves a connection while bytes keep coming. When the client goes quiet
(between keep-alive requests, or mid-head from a slow sender) the worker *parks*
the connection here and takes other work. The workers holding a turn (pool.py)
wait on this epoll themselves (``take_ready``) and serve the connection that
becomes ready on their own thread: no hand-off between threads. This module's
own thread only sweeps: a connection past its deadline is closed.

It also finishes responses for clients that read slowly: a connection parked as
a *writer* carries the unsent end of its response (see outbox.py); a worker
sends more each time the socket has room, without ever waiting on it.
"""

from __future__ import annotations

import functools
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Protocol

logger = logging.getLogger("barehttp.server")
_READ = select.EPOLLIN | select.EPOLLONESHOT
_WRITE = select.EPOLLOUT | select.EPOLLONESHOT


class Parkable(Protocol):
    """What the reactor needs from a connection."""

    deadline: float  # the reactor's clock time after which the connection is dropped

    def fileno(self) -> int: ...

    @property
    def is_writing(self) -> bool:
        """Parked with response bytes to send (else: waiting for request bytes)."""
        ...

    def write_more(self) -> bool:
        """Send what the socket takes now, without waiting; True once all is sent."""
        ...

    def write_finished(self) -> None:
        """All was sent: hand the connection back to a worker, or close it."""
        ...

    def resume(self) -> None:
        """Bytes arrived: serve the connection on the calling (worker) thread (for a
        request body being gathered: read them without waiting, and park again)."""
        ...

    def expire(self) -> None:
        """The deadline passed while parked: close, with 408 if mid-request."""
        ...

    def close(self) -> None: ...


class Reactor:
    """Holds parked connections until ready (for a worker to take) or past their deadline.

    Parking takes no lock and makes one system call: a connection stays
    registered with ``EPOLLONESHOT`` from its first parking to its close (the
    kernel forgets a closed socket), and each parking re-arms it with
    ``EPOLL_CTL_MOD``. A lock held across that call would be held while the
    call releases the GIL, and every other parking worker would queue on it.
    Who owns a parked connection is decided by one ``dict.pop`` (atomic under
    the GIL): a worker on an event, the sweep on a deadline, or a drain.
    """

    def __init__(
        self, sweep_interval_s: float = 0.25, clock: Callable[[], float] = time.monotonic
    ) -> None:
        # How often deadlines are checked; a deadline may be overrun by this much.
        self._sweep_interval_s = sweep_interval_s
        self._clock = clock
        self._epoll = select.epoll()
        self._parked: dict[int, Parkable] = {}
        # Written by wake(): a worker waiting in take_ready() returns to take a queued job.
        self._wake_fd = os.eventfd(0, os.EFD_SEMAPHORE | os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._epoll.register(self._wake_fd, select.EPOLLIN)
        self._lock = threading.Lock()  # close_all() and stop() only: never when parking
        self._closing = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="barehttp-sweep", daemon=True)
        self._thread.start()

    @property
    def parked_count(self) -> int:
        return len(self._parked)

    def park(self, connection: Parkable) -> None:
        """Watch ``connection`` until it is readable or its deadline passes."""
        self._watch(connection, _READ)
        if self._closing:  # close_all() may have listed the parked before this one
            self._close_if_taken(connection)

    def park_writer(self, connection: Parkable) -> None:
        """Send ``connection``'s outbox as the client reads, then ``write_finished()``."""
        # Not refused while draining: a response in flight is finished first.
        self._watch(connection, _WRITE)
        if self._stopped.is_set():
            self._close_if_taken(connection)

    def _watch(self, connection: Parkable, events: int) -> None:
        # Into the dict before arming: a worker may take the event at once.
        self._parked[connection.fileno()] = connection
        self._arm(connection, events)

    def _arm(self, connection: Parkable, events: int) -> None:
        fd = connection.fileno()
        try:
            try:
                # Registered at an earlier parking: re-arm. The kernel reports the fd
                # at the next wait, or at once if it is ready already.
                self._epoll.modify(fd, events)
            except FileNotFoundError:  # first parking (or the fd is a new socket's)
                self._epoll.register(fd, events)
        except (OSError, ValueError):  # the reactor stopped and its epoll is closed
            self._close_if_taken(connection)

    def _close_if_taken(self, connection: Parkable) -> None:
        if self._take(connection):
            connection.close()

    def expire_readers_by(self, latest: float) -> None:
        """Bring the deadline of every connection waiting for bytes forward to ``latest``."""
        for connection in list(self._parked.values()):
            if not connection.is_writing:
                connection.deadline = min(connection.deadline, latest)

    def close_all(self) -> None:
        """Refuse further parking and close every connection waiting for a request.

        Connections still writing a response are left to finish (a drain waits
        for them, since each holds a pool slot); ``stop()`` closes what remains.
        """
        with self._lock:
            self._closing = True  # set before listing: a later park() sees it
            self._close_parked([c for c in list(self._parked.values()) if not c.is_writing])

    def stop(self) -> None:
        if self._stopped.is_set():  # stopped already: its descriptors are closed
            return
        self.close_all()
        self._stopped.set()
        self._thread.join(timeout=2 * self._sweep_interval_s + 1)
        with self._lock:  # writers past the drain deadline; the thread is gone
            self._close_parked(list(self._parked.values()))
        self._epoll.close()
        os.close(self._wake_fd)

    def _close_parked(self, connections: list[Parkable]) -> None:
        for connection in connections:
            self._close_if_taken(connection)

    def _take(self, connection: Parkable) -> bool:
        """Own ``connection``; False if another thread already took it."""
        # The kernel keeps a ONESHOT fd disarmed after its event: nothing to undo.
        return self._parked.pop(connection.fileno(), None) is connection

    def wake(self, count: int) -> None:
        """Make ``count`` waits in ``take_ready()`` return (a job was queued, or a stop)."""
        if not self._stopped.is_set():  # after stop() the fd number may be another file's
            os.eventfd_write(self._wake_fd, count)

    def take_ready(self, timeout: float) -> Callable[[], None] | None:
        """Worker thread: wait up to ``timeout`` for one parked connection to become
        ready; the job that serves it on this thread, or None.

        One event per wait: the kernel wakes one waiting worker per ready socket, and
        its ready list is first in, first out, so no connection waits behind others.
        A writer is sent more here at once (it never waits), and parked again;
        only a finished one makes a job.
        """
        try:
            ready = self._epoll.poll(timeout, 1)
        except (OSError, ValueError):  # closed by stop()
            return None
        if not ready:
            return None
        fd = ready[0][0]
        connection = self._parked.get(fd)
        if connection is None:  # a wake(), or taken by a sweep or a drain meanwhile
            if fd == self._wake_fd:
                try:
                    os.eventfd_read(fd)
                except BlockingIOError:  # another worker took this wake
                    pass
            return None
        if connection.is_writing:
            return self._write(connection)
        if self._take(connection):
            return functools.partial(self._resume, connection)
        return None

    def _run(self) -> None:
        interval = self._sweep_interval_s
        while not self._stopped.wait(interval):
            self._sweep(self._clock())

    def _resume(self, connection: Parkable) -> None:
        # resume() serves the connection: whatever escapes it must cost one
        # connection, never this worker thread.
        try:
            connection.resume()
        except Exception:
            logger.exception("error while resuming a connection")
            connection.close()

    def _write(self, connection: Parkable) -> Callable[[], None] | None:
        # Owned while it writes: the sweep (another thread) must not close it under us.
        if not self._take(connection):
            return None
        try:
            finished = connection.write_more()
        except OSError as error:  # the client went away
            logger.debug("response not completed: %s", error)
            connection.close()
            return None
        if not finished:  # the client has not made room for all yet
            self.park_writer(connection)
            return None
        return functools.partial(self._finish_write, connection)

    def _finish_write(self, connection: Parkable) -> None:
        try:
            connection.write_finished()  # may serve a request pipelined behind it
        except Exception:
            logger.exception("error after writing a response")
            connection.close()

    def _sweep(self, now: float) -> None:
        expired = [c for c in list(self._parked.values()) if c.deadline <= now and self._take(c)]
        for connection in expired:
            try:
                connection.expire()
            except Exception:
                logger.exception("error while expiring a connection")
