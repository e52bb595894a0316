"""File descriptors: the process limit, how many connections fit under it, accept() errors.

systemd starts services with a soft ``RLIMIT_NOFILE`` of 1,024 (the hard limit is
far higher), and an ``accept()`` past the limit fails with EMFILE: the client
waits in the kernel's queue, unanswered. So at start-up the soft limit is raised
to the hard one, and the number of connections is kept below what the process
can open, with ``fd_reserve_count`` descriptors to spare: a connection over the
cap can still be accepted and told 503, and handlers can still open files.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable

from barehttp.protocol.limits import Limits

logger = logging.getLogger("barehttp.server")

# A connection may hold two descriptors: its socket, and a file its outbox sends.
DESCRIPTORS_PER_CONNECTION = 2
# accept() errors that mean "out of descriptors (or kernel memory) for now".
RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def raise_open_files_limit() -> int | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force.

    None where the platform has no such limit (no ``resource`` module).
    """
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as error:
            logger.warning("could not raise the open files limit to %d: %s", hard, error)
    return None if soft == resource.RLIM_INFINITY else soft


def count_open_descriptors() -> int:
    """Descriptors open now (Linux: /proc/self/fd; elsewhere 0: unknown)."""
    try:
        return len(os.listdir("/proc/self/fd")) - 1  # less the one listing the directory
    except OSError:
        return 0


def connection_capacity(
    limits: Limits,
    open_files_limit: int | None,
    in_use: int,
    descriptors_per_connection: int = DESCRIPTORS_PER_CONNECTION,
) -> int:
    """``max_connections``, lowered to fit the descriptors the process may still open.

    ``descriptors_per_connection``: 2 for the threaded server (a socket and the file
    its outbox may send), 1 for the ASGI host (a socket only: it sends no files).
    """
    if open_files_limit is None:
        return limits.max_connections
    spare = open_files_limit - in_use - limits.fd_reserve_count
    fitting = max(1, spare // descriptors_per_connection)
    if fitting < limits.max_connections:
        logger.info(
            "max_connections lowered to %d to fit the open files limit (%d)",
            fitting,
            open_files_limit,
        )
    return min(limits.max_connections, fitting)


class AcceptBackoff:
    """Waits after accept() fails for lack of descriptors, and logs it at most once a
    second (with the count of failures since), instead of a warning every attempt.

    The wait doubles from ``MIN_WAIT_S`` to ``MAX_WAIT_S`` while failures continue
    and resets on the next success; connections already open are served meanwhile
    (their threads do not wait on this).
    """

    MIN_WAIT_S = 0.01
    MAX_WAIT_S = 0.5
    LOG_INTERVAL_S = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._wait_s = 0.0
        self._next_log = 0.0
        self._unlogged = 0

    def failed(self, error: OSError) -> float:
        """Record a failed accept(); the seconds to wait before the next one."""
        self._wait_s = min(self.MAX_WAIT_S, max(self.MIN_WAIT_S, self._wait_s * 2))
        self._unlogged += 1
        now = self._clock()
        if now >= self._next_log:
            logger.warning(
                "accept failed (%d time(s) in the last second): %s; backing off",
                self._unlogged,
                error,
            )
            self._unlogged = 0
            self._next_log = now + self.LOG_INTERVAL_S
        return self._wait_s

    def succeeded(self) -> None:
        self._wait_s = 0.0
