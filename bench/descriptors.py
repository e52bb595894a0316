"""File descriptors for the idle benches: the open files limit they raise, and a server's count."""

from __future__ import annotations

import contextlib
import os
import resource

from harness import BenchError, process_tree


def raise_fd_limit(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE to ``needed`` (servers started later inherit it).

    Raises:
        BenchError: the hard limit is lower than ``needed``.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise BenchError(f"fd hard limit {hard} < {needed} needed; lower --connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def hard_fd_limit() -> int:
    """The hard RLIMIT_NOFILE: what a server raising its own soft limit gets (or 2**31)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 2**31 if hard == resource.RLIM_INFINITY else hard


def count_fds(pid: int) -> int:
    """Open descriptors of ``pid`` and its descendants (granian's worker holds the sockets)."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            total += len(os.listdir(f"/proc/{member}/fd"))
    return total
