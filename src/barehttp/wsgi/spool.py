"""A capped chunked body, read whole before the application runs (memory, then disk).

A chunked body declares no length, so a cap is only hit while it is read. Read
by the application, the 413 would surface inside it as an exception (a 500 and
a traceback in Flask). Under a cap, the server reads the body first: over the
cap, the client gets a clean 413 and the application never runs; within it, the
application reads a file with a known ``CONTENT_LENGTH`` (as under waitress).
"""

from __future__ import annotations

import tempfile
from typing import IO

from barehttp.server.handler import Exchange

# A spooled body stays in memory up to this size, then moves to a temporary file.
SPOOL_MEMORY_BYTES = 1_048_576
READ_BYTES = 65_536


def spool_body(exchange: Exchange) -> tuple[IO[bytes], int]:
    """The whole request body in a file positioned at its start, and its size.

    Raises:
        HTTPError: ``ContentTooLarge`` past ``max_body_bytes`` (from the parser),
            or a framing or timeout error; the file is then closed.
    """
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115
    size = 0
    try:
        while data := exchange.read_body(READ_BYTES):
            spool.write(data)
            size += len(data)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool, size
