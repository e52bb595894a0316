"""SIGINT/SIGTERM: the first drains the server, a second one exits at once."""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

from barehttp.server.server import Server

logger = logging.getLogger("barehttp.server")

# Exit status when a second signal cuts the drain short.
FORCED_EXIT_STATUS = 1


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

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
