"""Signal handling, installed only from entry points (the CLI, serve(), a worker's start).

One process (no workers): SIGINT/SIGTERM drain the server, a second one exits
at once. SIGHUP, when the command line enabled it (``enable_reexec``), drains
and then re-executes the same command in this same process (the PID systemd
or a terminal knows), handing it the listening sockets, which never close: a
connection arriving meanwhile waits in the kernel's queue, none is refused.
Otherwise SIGHUP is logged and ignored.

A worker process: a terminal's Ctrl-C or ``systemctl stop`` signals the whole
process group, so each worker gets the signal its supervisor also gets and then
forwards. The supervisor alone decides: a worker ignores SIGINT and SIGHUP, and
any number of SIGTERMs is one drain. A forced stop is the supervisor's SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import Protocol

from barehttp.server.exit_codes import DRAIN_CUT_STATUS, FORCED_EXIT_STATUS, exit_status
from barehttp.server.sockets import INHERITED_FDS_VARIABLE

__all__ = [
    "DRAIN_CUT_STATUS",
    "FORCED_EXIT_STATUS",
    "REEXEC",
    "Drainable",
    "Restartable",
    "WorkerSignals",
    "enable_reexec",
    "exit_status",
    "install_shutdown_signals",
    "reexec_if_requested",
    "set_reexec_check",
]

logger = logging.getLogger("barehttp.server")


class Drainable(Protocol):
    """What a signal stops: anything that drains on request (a server, a worker's body)."""

    def request_shutdown(self) -> None:
        """Stop accepting and finish what is in flight; safe from a signal handler."""


class Restartable(Drainable, Protocol):
    """A single-process server SIGHUP can re-execute: it hands over its listening sockets."""

    @property
    def listening_sockets(self) -> list[socket.socket]:
        """The sockets accepted on; empty before they are open."""


class Reexec:
    """What SIGHUP re-executes (set once by the entry point) and the sockets it hands over."""

    def __init__(self) -> None:
        self.command: list[str] | None = None  # arguments after ``python -m barehttp``
        self.directory = ""  # where the command started (wsgi --chdir moves the process)
        # Before draining: None if the new code loads, else why not (then no restart).
        self.check: Callable[[], str | None] | None = None
        self.fds: list[int] = []  # duplicates of the listeners, kept open across exec


# Signal handling is the one place with process-wide state (see STYLE.md).
REEXEC = Reexec()


def enable_reexec(command: list[str]) -> None:
    """Let SIGHUP restart a single-process server as ``barehttp COMMAND...``."""
    REEXEC.command = list(command)
    REEXEC.directory = os.getcwd()


def set_reexec_check(check: Callable[[], str | None]) -> None:
    """A test of the new code run on SIGHUP: a message means keep serving the old code."""
    REEXEC.check = check


def reexec_if_requested() -> None:
    """After a SIGHUP drain: become a fresh ``barehttp`` on the same sockets (no return)."""
    if not REEXEC.fds or REEXEC.command is None:
        return
    for fd in REEXEC.fds:
        os.set_inheritable(fd, True)
    environ = {**os.environ, INHERITED_FDS_VARIABLE: ",".join(map(str, REEXEC.fds))}
    logger.info("restarting in place")
    for handler in logging.getLogger().handlers + logging.getLogger("barehttp.access").handlers:
        handler.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "barehttp", *REEXEC.command]
    os.chdir(REEXEC.directory)  # a relative --chdir or path means what it meant at start
    os.execve(sys.executable, argv, environ)


def install_shutdown_signals(server: Restartable) -> None:
    """Route SIGINT and SIGTERM to ``server``; call only from the main thread."""
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if received:
            logger.warning("second signal: exiting without waiting")
            os._exit(FORCED_EXIT_STATUS)
        received.append(signum)
        if REEXEC.fds:  # a stop during a reload's drain: stop, do not restart
            for fd in REEXEC.fds:
                os.close(fd)
            REEXEC.fds = []
        logger.info("%s received: draining", signal.Signals(signum).name)
        server.request_shutdown()

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        if REEXEC.command is None:
            logger.warning("SIGHUP ignored: reloading needs --workers (send SIGTERM to stop)")
            return
        if received or REEXEC.fds:
            return  # already stopping or reloading
        sockets = server.listening_sockets
        if not sockets:
            logger.warning("SIGHUP ignored: the server is not listening yet")
            return
        problem = REEXEC.check() if REEXEC.check is not None else None
        if problem is not None:
            logger.error("SIGHUP: not restarting, the new code does not load: %s", problem)
            return
        REEXEC.fds = [os.dup(sock.fileno()) for sock in sockets]
        logger.info("SIGHUP received: draining, then restarting with the same sockets")
        server.request_shutdown()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)


class WorkerSignals:
    """A worker's handlers: installed at once after the fork, attached to its server later.

    A SIGTERM before the server exists (the application still importing) is
    remembered, so that the worker drains as soon as it has started.
    """

    def __init__(self) -> None:
        self._server: Drainable | None = None
        self._stop_requested = False
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor got it too
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor's reload
        signal.signal(signal.SIGTERM, self._on_terminate)

    def attach(self, server: Drainable) -> None:
        self._server = server
        if self._stop_requested:
            server.request_shutdown()

    def _on_terminate(self, signum: int, frame: FrameType | None) -> None:
        if self._stop_requested:
            return  # the group's SIGTERM and the supervisor's are one request
        self._stop_requested = True
        logger.info("worker %d draining", os.getpid())
        if self._server is not None:
            self._server.request_shutdown()
