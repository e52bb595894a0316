"""Pre-forked worker processes: one listening socket, N processes, one supervisor.

The parent binds the listening sockets and forks the workers, which inherit
them and each run a ``WorkerBody``: a full threaded ``Server`` (own threads, own
reactor), or the ASGI host's event loop. The kernel hands each new connection
to one of the processes blocked in ``accept()``.

We share one inherited socket rather than giving each worker its own
``SO_REUSEPORT`` socket: with per-worker sockets, connections waiting in the
accept queue of a worker that exits are reset, so a rolling reload would refuse
clients. With one shared queue, a draining worker simply stops accepting and
the others pick up what is queued.

The parent supervises: a worker that dies is replaced (with a growing delay if
workers keep dying young), SIGTERM/SIGINT drain every worker, SIGHUP replaces
workers one at a time, each new one ready before an old one is told to leave.
A worker that cannot start at all (its application does not import, its ASGI
lifespan startup fails) while the first workers start, or while no other
worker serves, stops the supervisor with the worker's message: respawning it
would fail the same way forever. With workers serving, a replacement that
fails is retried (with the growing delay), as a worker that dies young is.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Protocol

from barehttp.protocol.limits import Limits
from barehttp.server.exit_codes import DRAIN_CUT_STATUS, STARTUP_FAILED_STATUS, exit_status
from barehttp.server.listener import bind_listeners, describe_listener
from barehttp.server.server import Server
from barehttp.server.signals import WorkerSignals

logger = logging.getLogger("barehttp.server")

# A worker that exits sooner than this after starting counts as a crash loop.
MIN_HEALTHY_LIFETIME_S = 2.0
MAX_RESPAWN_DELAY_S = 10.0
# How long a new worker may take to import the application and start.
WORKER_START_TIMEOUT_S = 30.0
# Supervisor loop tick: how fast deaths and signals are noticed.
TICK_S = 0.1
# How often a worker checks that its supervisor still runs.
SUPERVISOR_CHECK_S = 0.5
# The most of a worker's start-up failure message the supervisor reads and logs.
MAX_START_MESSAGE_BYTES = 4_096
_READY = b"1"  # on the ready pipe; b"!" + a message means the worker could not start
_FAILED = b"!"


class WorkerStartError(Exception):
    """A worker body could not start; the message (the application's) is for the user."""


class WorkerBody(Protocol):
    """What one worker process runs on the listening sockets it inherited."""

    def start(self) -> None:
        """Begin serving; returns once connections are taken. Raises WorkerStartError."""

    def serve(self) -> int:
        """Serve until drained (after ``request_shutdown``); the exit status."""

    def request_shutdown(self) -> None:
        """Drain; safe from a signal handler and from another thread."""


# Builds a worker's body in the worker, after the fork: (listeners, max_requests).
MakeWorker = Callable[[list[socket.socket], int], WorkerBody]


class ThreadedWorker:
    """A threaded ``Server`` as a worker body."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def start(self) -> None:
        self.server.announce = False  # the supervisor said where it listens, once
        self.server.start()

    def serve(self) -> int:
        return exit_status(self.server.serve_forever())

    def request_shutdown(self) -> None:
        self.server.request_shutdown()


def cpu_count() -> int:
    """CPUs this process may run on (respects taskset and cgroups affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class WorkerOptions:
    count: int
    max_requests: int = 0  # recycle a worker after about this many requests; 0 = never
    max_requests_jitter: int = 0  # spread recycling so workers do not restart together


@dataclass
class _Worker:
    pid: int
    started: float


class Supervisor:
    """Runs ``make_worker(listeners, max_requests)`` in ``options.count`` forked processes."""

    def __init__(
        self,
        make_worker: MakeWorker,
        *,
        host: str | None,
        port: int,
        limits: Limits,
        options: WorkerOptions,
        listeners: list[socket.socket] | None = None,
        is_tls: bool = False,
    ) -> None:
        self._make_worker = make_worker
        self._host = host
        self._port = port
        self._limits = limits
        self._options = options
        self._listeners: list[socket.socket] = listeners or []  # else bound by run()
        self._is_tls = is_tls  # for the "listening on https://..." line
        self._workers: dict[int, _Worker] = {}
        self._stop_signals = 0
        self._reload_requested = False
        self._drain_cut = False  # a worker stopped with requests unfinished
        self._respawn_delay = 0.0
        self._next_spawn_at = 0.0

    def run(self) -> int:
        """Supervise until SIGTERM/SIGINT; returns the exit status."""
        if not self._listeners:
            self._listeners = bind_listeners(self._host, self._port, self._limits)
        for sock in self._listeners:
            scheme = "https" if self._is_tls else "http"
            shown = describe_listener(sock, scheme)
            logger.info("listening on %s with %d workers", shown, self._options.count)
        self._install_signals()
        try:
            for _ in range(self._options.count):
                if self._spawn() is None and not self._stop_signals:
                    logger.error("a worker could not start: stopping")
                    self._stop_all()
                    return STARTUP_FAILED_STATUS
            while not self._stop_signals:
                self._reap()
                if self._reload_requested:
                    self._reload_requested = False
                    self._rolling_reload()
                if not self._replace_missing():
                    logger.error("no worker is serving and a new one could not start: stopping")
                    self._stop_all()
                    return STARTUP_FAILED_STATUS
                time.sleep(TICK_S)
            return self._stop_all()
        finally:
            for sock in self._listeners:
                sock.close()

    @property
    def listeners(self) -> list[socket.socket]:
        return self._listeners

    # -- signals -----------------------------------------------------------------

    def _install_signals(self) -> None:
        def on_stop(signum: int, frame: FrameType | None) -> None:
            self._stop_signals += 1
            if self._stop_signals > 1:  # a second signal: no more waiting
                logger.warning("second signal: killing workers")
                for pid in list(self._workers):
                    _signal_quietly(pid, signal.SIGKILL)
                os._exit(1)

        def on_reload(signum: int, frame: FrameType | None) -> None:
            self._reload_requested = True

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGHUP, on_reload)

    # -- worker life cycle -----------------------------------------------------

    def _spawn(self) -> int | None:
        """Fork a worker and wait until it is serving; its pid, or None if it did not start."""
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(ready_read)
            self._worker_main(ready_write)  # never returns
        os.close(ready_write)
        self._workers[pid] = _Worker(pid, time.monotonic())
        try:
            ready, _, _ = select.select([ready_read], [], [], WORKER_START_TIMEOUT_S)
            answer = os.read(ready_read, MAX_START_MESSAGE_BYTES) if ready else b""
        finally:
            os.close(ready_read)
        if answer[:1] != _READY:
            message = answer[1:].decode(errors="replace") or "no answer in time"
            logger.error("worker %d did not start: %s", pid, message)
            return None
        logger.info("worker %d started", pid)
        return pid

    def _worker_main(self, ready_fd: int) -> None:
        status = 0
        try:
            # First of all: a group signal may come while the application imports.
            worker_signals = WorkerSignals()
            max_requests = self._options.max_requests
            if max_requests:
                max_requests += random.randint(0, self._options.max_requests_jitter)
            body = self._make_worker(self._listeners, max_requests)
            body.start()
            worker_signals.attach(body)
            _drain_when_orphaned(body, os.getppid())
            os.write(ready_fd, _READY)
            os.close(ready_fd)
            ready_fd = -1
            status = body.serve()
        except WorkerStartError as error:  # the application's own message: no traceback
            logger.error("worker %d: %s", os.getpid(), error)
            _report_failure(ready_fd, str(error))
            status = STARTUP_FAILED_STATUS
        except BaseException as error:
            logger.exception("worker %d failed", os.getpid())
            _report_failure(ready_fd, repr(error))
            status = 1
        finally:
            logging.shutdown()
            os._exit(status)

    def _reap(self) -> list[int]:
        """Collect exited workers; returns their pids."""
        exited: list[int] = []
        while self._workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            worker = self._workers.pop(pid, None)
            if worker is None:
                continue
            exited.append(pid)
            lived = time.monotonic() - worker.started
            code = os.waitstatus_to_exitcode(status)
            if self._stop_signals:
                logger.info("worker %d stopped (exit %d)", pid, code)
                self._drain_cut = self._drain_cut or code != 0
            elif code == 0:
                # A clean exit is a retirement (max_requests), however soon it came: a
                # busy worker reaches its limit in well under MIN_HEALTHY_LIFETIME_S.
                logger.info("worker %d exited (recycled)", pid)
                self._respawn_delay = 0.0
            else:
                logger.warning("worker %d died (exit %d) after %.1fs", pid, code, lived)
                if lived < MIN_HEALTHY_LIFETIME_S:
                    self._respawn_delay = min(
                        MAX_RESPAWN_DELAY_S, max(0.1, self._respawn_delay * 2)
                    )
                else:
                    self._respawn_delay = 0.0
                self._next_spawn_at = time.monotonic() + self._respawn_delay
        return exited

    def _replace_missing(self) -> bool:
        """Start workers up to the count; False if one could not start with none serving
        (respawning would fail the same way forever, and serve nobody meanwhile)."""
        while len(self._workers) < self._options.count and not self._stop_signals:
            if time.monotonic() < self._next_spawn_at:
                return True
            serving = set(self._workers)
            if self._spawn() is None and not serving:
                return False
        return True

    def _rolling_reload(self) -> None:
        """SIGHUP: start a fresh worker, then drain one old one; repeat for all."""
        logger.info("reloading workers one at a time")
        for old_pid in list(self._workers):
            if self._stop_signals:
                return
            before = set(self._workers)
            if self._spawn() is None:
                # New code that does not start must not replace workers that serve.
                logger.error("reload abandoned: the remaining old workers keep serving")
                for pid in set(self._workers) - before:  # the one that failed, if still up
                    _signal_quietly(pid, signal.SIGKILL)
                return
            _signal_quietly(old_pid, signal.SIGTERM)
            self._wait_for_exit({old_pid}, self._limits.shutdown_timeout_s + 5.0)

    def _wait_for_exit(self, pids: set[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while pids & self._workers.keys():
            if time.monotonic() > deadline:
                for pid in pids & self._workers.keys():
                    logger.warning("worker %d did not drain in time; killing it", pid)
                    _signal_quietly(pid, signal.SIGKILL)
                deadline = time.monotonic() + 5.0
            self._reap()
            time.sleep(TICK_S / 2)

    def _stop_all(self) -> int:
        logger.info("stopping %d workers", len(self._workers))
        for pid in list(self._workers):
            _signal_quietly(pid, signal.SIGTERM)
        self._wait_for_exit(set(self._workers), self._limits.shutdown_timeout_s + 5.0)
        return DRAIN_CUT_STATUS if self._drain_cut else 0


def _signal_quietly(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _report_failure(ready_fd: int, message: str) -> None:
    """Tell the supervisor why this worker did not start (if it is still waiting)."""
    if ready_fd >= 0:
        # One write below PIPE_BUF (4096 bytes) is atomic: the supervisor reads it whole.
        encoded = message.encode(errors="replace")[: MAX_START_MESSAGE_BYTES - 1]
        with contextlib.suppress(OSError):
            os.write(ready_fd, _FAILED + encoded)


def _drain_when_orphaned(body: WorkerBody, supervisor: int) -> None:
    """Drain ``body`` once its supervisor is gone (killed with SIGKILL, say).

    Nobody would replace, reload or stop an orphaned worker, and it would keep
    the port open: it finishes what it has and exits, as gunicorn's workers do.
    """

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(SUPERVISOR_CHECK_S)
        logger.warning("supervisor %d is gone: worker %d drains and exits", supervisor, os.getpid())
        body.request_shutdown()

    threading.Thread(target=watch, name="barehttp-supervisor-watch", daemon=True).start()
