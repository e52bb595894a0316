"""AccessLogStream: access lines written straight to a file descriptor.

Through ``logging`` an access line costs about 15-20 µs of CPU (a LogRecord,
the handler's lock, a formatter, a write and a flush): more than serving a
small request. The command line sends access lines here instead: the line
is encoded and written with one ``os.write``, nothing else.

Unbuffered on purpose: a line is out when its request is done, so nothing is
lost when a worker is killed and nothing needs flushing at exit or before a
restart in place. A lock keeps lines whole: a pipe writes at most
``PIPE_BUF`` (4 KiB) bytes at once, and a longer combined line (a long
User-Agent) written from two threads could otherwise interleave.
"""

from __future__ import annotations

import logging
import os
import threading

logger = logging.getLogger("barehttp.server")


class AccessLogStream:
    """Writes whole lines to ``fd`` (not closed here: it is usually stderr)."""

    __slots__ = ("_failed", "_fd", "_lock", "lines_dropped")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()
        self._failed = False  # a write failed: said once, not once per request
        self.lines_dropped = 0

    def write_line(self, line: str) -> None:
        """Write ``line`` and a newline; a line that cannot be written is dropped
        (counted, and said once in the server log): never an error for the request."""
        # As sys.stderr encodes: text the terminal cannot show comes out escaped.
        data = line.encode("utf-8", "backslashreplace") + b"\n"
        with self._lock:
            try:
                written = os.write(self._fd, data)
                while written < len(data):  # a signal can cut a write short
                    written += os.write(self._fd, data[written:])
            except OSError as error:  # a closed pipe, a full disk, a non-blocking stderr
                self.lines_dropped += 1
                if not self._failed:
                    self._failed = True
                    logger.warning("access log lines are being dropped: %s", error)
