"""The exit statuses of a serving ``barehttp`` process, one place for every host.

0 means every request drained. The single-process servers, the ASGI host and
the worker supervisor all return these, and the README's Shutdown section
lists them.
"""

from __future__ import annotations

# A second SIGINT/SIGTERM cut the drain short (the process exits at once).
FORCED_EXIT_STATUS = 1
# The application did not start: its import failed in a worker, or its ASGI
# lifespan startup said ``lifespan.startup.failed`` (the message is logged).
STARTUP_FAILED_STATUS = 1
# The shutdown deadline (``shutdown_timeout_s``) passed with requests still running.
DRAIN_CUT_STATUS = 3


def exit_status(drained: bool) -> int:
    """The process exit status after a drain: 0 if every request completed."""
    return 0 if drained else DRAIN_CUT_STATUS
