"""AccessLogStream: access lines written straight to a file descriptor.

Through ``logging`` an access line costs about 15-20 µs of CPU (a LogRecord,
the handler's lock, a formatter, a write and a flush): more than serving a
small request. The command line puts this handler alone on the
``barehttp.access`` logger, and ``log_access`` then hands it the finished
line without making a record: one ``os.write`` and nothing else. Anything
else logged to ``barehttp.access`` goes through ``emit`` as with any handler,
and a logger set up otherwise (more handlers, filters, propagation: a test's
capture, an application's logging configuration) gets records as before.

Unbuffered on purpose: a line is out when its request is done, so nothing is
lost when a worker is killed and nothing needs flushing at exit or before a
restart in place. A lock keeps lines whole: a pipe writes at most
``PIPE_BUF`` (4 KiB) bytes at once, and a longer combined line (a long
User-Agent) written from two threads could otherwise interleave.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("barehttp.server")


class AccessLogStream(logging.Handler):
    """Writes whole lines to ``fd`` (not closed here: it is usually stderr)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))
        self._fd = fd
        self._failed = False  # a write failed: said once, not once per request
        self.lines_dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.write_line(self.format(record))

    def write_line(self, line: str) -> None:
        """Write ``line`` and a newline; a line that cannot be written is dropped
        (counted, and said once in the server log): never an error for the request."""
        # As sys.stderr encodes: text the terminal cannot show comes out escaped.
        data = line.encode("utf-8", "backslashreplace") + b"\n"
        # The handler's own lock (handle() holds it around emit(): it is reentrant),
        # which logging also renews in a forked child.
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            try:
                written = os.write(self._fd, data)
                while written < len(data):  # a signal can cut a write short
                    written += os.write(self._fd, data[written:])
            except OSError as error:  # a closed pipe, a full disk, a non-blocking stderr
                self.lines_dropped += 1
                if not self._failed:
                    self._failed = True
                    logger.warning("access log lines are being dropped: %s", error)


def direct_stream(access_logger: logging.Logger) -> AccessLogStream | None:
    """The stream to hand lines to without a record: only when it is the logger's
    one handler, with no filter and no propagation (as the command line sets it)."""
    handlers = access_logger.handlers
    if len(handlers) == 1 and not access_logger.propagate and not access_logger.filters:
        handler = handlers[0]
        if type(handler) is AccessLogStream and not handler.filters:
            return handler
    return None
