"""The ASGI host's connection cap, fitted to the descriptors the process may open.

Without it, under systemd's soft limit of 1,024 descriptors, ``accept()`` fails
with EMFILE long before ``max_connections``: accepting then stops for a second at
a time, and new clients wait unanswered in the kernel's queue. So, as the
threaded server does (server/fd_limits.py), the soft limit is raised to the hard
one at start-up and ``max_connections`` lowered to fit below it,
``fd_reserve_count`` descriptors spare: a connection over the cap is still
accepted and answered 503. Each connection here holds one descriptor, its socket.

Sockets still being set up (a TLS client's first byte or handshake) count
against the cap too (acceptor.py), so silent clients cannot take the reserve.
"""

from __future__ import annotations

import dataclasses

from barehttp.protocol.limits import Limits
from barehttp.server.fd_limits import (
    connection_capacity,
    count_open_descriptors,
    raise_open_files_limit,
)

DESCRIPTORS_PER_CONNECTION = 1  # the socket; the ASGI host sends no files


def fit_connections_to_descriptors(limits: Limits) -> Limits:
    """Raise the soft open files limit; ``limits`` with ``max_connections`` fitted under it.

    Call once the listeners are open (they count among the descriptors in use).
    """
    capacity = connection_capacity(
        limits,
        raise_open_files_limit(),
        count_open_descriptors(),
        descriptors_per_connection=DESCRIPTORS_PER_CONNECTION,
    )
    if capacity == limits.max_connections:
        return limits
    return dataclasses.replace(limits, max_connections=capacity)
