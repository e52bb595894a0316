"""Log handlers for the command line: the one place that configures logging."""

from __future__ import annotations

import logging
import sys

from barehttp.server.access_log_stream import AccessLogStream


def configure_logging(level: str, access_log: bool) -> None:
    """Server logs and access lines both go to stderr; only the CLI does this.

    The handler sits on the root logger, so the hosted application's own
    loggers show too (``--log-level DEBUG`` shows its DEBUG lines). Each line
    carries the process id: with workers, it tells which one wrote it.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    access = logging.getLogger("barehttp.access")
    access.propagate = False
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    access_handler: logging.Handler
    try:
        # Access lines are written to stderr directly, one write each, without a
        # log record: the same text at a fraction of the cost (access_log_stream.py).
        access_handler = AccessLogStream(sys.stderr.fileno())
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):  # replaced by an object without one
        access_handler = logging.StreamHandler(sys.stderr)
        access_handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(access_handler)
