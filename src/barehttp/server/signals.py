"""Signal handling, installed only from entry points (the CLI, serve(), a worker's start).

One process (no workers): SIGINT/SIGTERM drain the server, a second one exits
at once; SIGHUP is logged and ignored (a reload needs worker processes).

A worker process: a terminal's Ctrl-C or ``systemctl stop`` signals the whole
process group, so each worker gets the signal its supervisor also gets and then
forwards. The supervisor alone decides: a worker ignores SIGINT and SIGHUP, and
any number of SIGTERMs is one drain. A forced stop is the supervisor's SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

from barehttp.server.server import Server

logger = logging.getLogger("barehttp.server")

# Exit status when a second signal cuts the drain short.
FORCED_EXIT_STATUS = 1
# Exit status when the shutdown deadline passed with requests still running.
DRAIN_CUT_STATUS = 3


def exit_status(drained: bool) -> int:
    """The process exit status after a drain: 0 if every request completed."""
    return 0 if drained else DRAIN_CUT_STATUS


def install_shutdown_signals(server: Server) -> None:
    """Route SIGINT and SIGTERM to ``server``; call only from the main thread."""
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if received:
            logger.warning("second signal: exiting without waiting")
            os._exit(FORCED_EXIT_STATUS)
        received.append(signum)
        logger.info("%s received: draining", signal.Signals(signum).name)
        server.request_shutdown()

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        logger.warning("SIGHUP ignored: reloading needs --workers (send SIGTERM to stop)")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_hangup)


class WorkerSignals:
    """A worker's handlers: installed at once after the fork, attached to its server later.

    A SIGTERM before the server exists (the application still importing) is
    remembered, so that the worker drains as soon as it has started.
    """

    def __init__(self) -> None:
        self._server: Server | None = None
        self._stop_requested = False
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor got it too
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor's reload
        signal.signal(signal.SIGTERM, self._on_terminate)

    def attach(self, server: Server) -> None:
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
