"""WebSocketHub: one epoll thread owning every upgraded connection (idle ones cost no thread).

After the 101 a connection leaves HTTP handling (the reactor and the worker that
served it) and is watched here: this thread reads each session's socket when
bytes arrive, sends outboxes as peers make room, and every ``sweep_interval_s``
pings quiet peers and drops dead ones (websocket_session.py). Messages for
parked sessions are delivered on the worker pool. The thread starts with the
first session; graceful shutdown sends every session a Close with 1001.

Deliveries are batched per wakeup: the sessions that got messages in one
``epoll.poll`` round share one pool job per ``SESSIONS_PER_JOB`` of them, which
take the sessions in turn, instead of a job (and a worker thread woken) each. A
thread woken while this one holds the GIL costs two context switches on a busy
core; under many active WebSockets that handoff, not the frames, was the bulk of
the echo's cost. A job blocked in one callback leaves the rest of its batch to
the batch's other jobs.
"""

from __future__ import annotations

import collections
import logging
import os
import select
import threading
import time
from collections.abc import Callable

from barehttp.protocol.websocket_errors import CloseCode
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.server.websocket_owner import SessionState
from barehttp.server.websocket_session import WebSocketSession

logger = logging.getLogger("barehttp.server")
_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_PROBLEM = select.EPOLLHUP | select.EPOLLERR
# Sessions with messages from one poll round per pool job (see the module docstring).
SESSIONS_PER_JOB = 8


class WebSocketHub:
    """Watches WebSocket sessions; see the module docstring."""

    def __init__(
        self,
        limits: WebSocketLimits,
        dispatch: Callable[[Callable[[], None]], None],
        *,
        sweep_interval_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self._dispatch = dispatch
        self._sweep_interval_s = sweep_interval_s
        self.clock = clock
        # Made with the first session, as the thread: a server without WebSockets
        # holds no descriptor for them.
        self._epoll: select.epoll | None = None
        self._wake_fd = -1
        self._sessions: dict[int, WebSocketSession] = {}
        self._read_soon: collections.deque[WebSocketSession] = collections.deque()
        self._lock = threading.Lock()  # starting, shutting down, and the all-closed wait
        self._all_closed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._thread_id = 0  # the hub thread's ident: its dispatches are batched
        self._batch = DeliveryBatch()  # deliveries of this poll round
        self._going_away = False
        self._stopped = False

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def add(self, session: WebSocketSession) -> None:
        """Watch ``session`` from now on (its socket is non-blocking)."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("the server has stopped")
            if session.state is SessionState.CLOSED:  # ended by its early frames
                return
            if self._thread is None:
                self._epoll = select.epoll()
                self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
                self._epoll.register(self._wake_fd, _IN)
                self._thread = threading.Thread(
                    target=self._run, name="barehttp-websockets", daemon=True
                )
                self._thread.start()
            self._sessions[session.fd] = session
            going_away = self._going_away
            epoll = self._epoll
        assert epoll is not None
        epoll.register(session.fd, self._mask(session))
        if going_away:  # upgraded during a drain: told at once that the server leaves
            session.close(CloseCode.GOING_AWAY, "server shutting down")

    # -- SessionOwner --------------------------------------------------------------

    def rearm(self, session: WebSocketSession) -> None:
        if self._epoll is None:
            return
        try:
            self._epoll.modify(session.fd, self._mask(session))
        except (OSError, ValueError):  # not registered yet (add() does it) or epoll closed
            pass

    def forget(self, session: WebSocketSession) -> None:
        with self._lock:
            if self._sessions.get(session.fd) is session:
                del self._sessions[session.fd]
            if not self._sessions:
                self._all_closed.notify_all()
        if self._epoll is None:
            return
        try:
            self._epoll.unregister(session.fd)  # before the socket closes and its fd is reused
        except (OSError, ValueError):
            pass

    def dispatch(self, job: Callable[[], None]) -> None:
        if threading.get_ident() == self._thread_id:
            self._batch.add(job)  # submitted at the end of this poll round
        else:
            self._dispatch(job)

    def read_soon(self, session: WebSocketSession) -> None:
        self._read_soon.append(session)
        if self._wake_fd >= 0:
            os.eventfd_write(self._wake_fd, 1)

    @staticmethod
    def _mask(session: WebSocketSession) -> int:
        return (_IN if session.wants_read else 0) | (_OUT if session.wants_write else 0)

    # -- shutdown ------------------------------------------------------------------------

    def go_away(self) -> None:
        """Graceful shutdown: send every session a Close with 1001 (RFC 6455 §7.4.1)."""
        with self._lock:
            self._going_away = True
            sessions = list(self._sessions.values())
        for session in sessions:
            session.close(CloseCode.GOING_AWAY, "server shutting down")

    def wait_all_closed(self, timeout: float) -> bool:
        with self._all_closed:
            return self._all_closed.wait_for(lambda: not self._sessions, timeout)

    def stop(self) -> None:
        """Drop what is still open and end the thread."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            sessions = list(self._sessions.values())
            thread = self._thread
        for session in sessions:
            session.abort()
        if thread is not None and self._epoll is not None:
            os.eventfd_write(self._wake_fd, 1)
            thread.join(timeout=2 * self._sweep_interval_s + 1)
            self._epoll.close()
            os.close(self._wake_fd)

    # -- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        self._thread_id = threading.get_ident()
        clock = self.clock
        interval = self._sweep_interval_s
        sessions = self._sessions
        wake_fd = self._wake_fd
        next_sweep = clock() + interval
        epoll = self._epoll
        assert epoll is not None
        while not self._stopped:
            try:
                ready = epoll.poll(interval)
            except (OSError, ValueError):  # closed under us at stop()
                return
            for fd, events in ready:
                if fd == wake_fd:
                    self._drain_wakes()
                    continue
                session = sessions.get(fd)
                if session is None:
                    continue
                self._guard(session, events)
            self._batch.submit(self._dispatch)
            now = clock()
            if now >= next_sweep:
                for session in list(sessions.values()):
                    try:
                        session.check_time(now)
                    except Exception:
                        logger.exception("error checking a WebSocket's timers")
                        session.abort()
                self._batch.submit(self._dispatch)  # close notices of dropped sessions
                next_sweep = now + interval

    def _drain_wakes(self) -> None:
        try:
            os.eventfd_read(self._wake_fd)
        except BlockingIOError:
            pass
        while self._read_soon:
            self._guard(self._read_soon.popleft(), _IN)

    def _guard(self, session: WebSocketSession, events: int) -> None:
        # Whatever one session raises must cost that session, never this thread.
        try:
            if events & _PROBLEM and not session.wants_read:
                session.abort()  # reading is paused: nothing would ever clear the hang-up
                return
            if events & _OUT:
                session.on_writable()
            if events & (_IN | _PROBLEM):
                session.on_readable()
        except Exception:
            logger.exception("error on a WebSocket connection")
            session.abort()


class DeliveryBatch:
    """The deliveries of one poll round: one pool job per ``sessions_per_job`` of them."""

    def __init__(self, sessions_per_job: int = SESSIONS_PER_JOB) -> None:
        if sessions_per_job < 1:
            raise ValueError("sessions_per_job must be at least 1")
        self._sessions_per_job = sessions_per_job
        self._jobs: list[Callable[[], None]] = []

    def add(self, job: Callable[[], None]) -> None:
        self._jobs.append(job)

    def submit(self, dispatch: Callable[[Callable[[], None]], None]) -> None:
        """Hand what was added to ``dispatch`` (the pool) and start a new batch."""
        if not self._jobs:
            return
        jobs, self._jobs = self._jobs, []
        if len(jobs) <= 1:
            for job in jobs:
                dispatch(job)
            return
        shared = collections.deque(jobs)
        for _ in range(-(-len(jobs) // self._sessions_per_job)):
            dispatch(lambda: _run_in_turn(shared))


def _run_in_turn(jobs: collections.deque[Callable[[], None]]) -> None:
    """Pool thread: run jobs, shared with the batch's other runners, until none is left."""
    while True:
        try:
            job = jobs.popleft()
        except IndexError:
            return
        try:
            job()
        except BaseException:  # the rest of the batch must still run (as the pool does)
            logger.exception("unhandled error in a WebSocket delivery")
