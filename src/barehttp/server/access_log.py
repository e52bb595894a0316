"""Access log lines: Common Log Format, or Combined with the request's duration.

``common``: ``host - - [time] "request line" status bytes`` (NCSA CLF, what
Apache and nginx call "common"). ``combined`` adds ``"Referer" "User-Agent"``
as Apache's and nginx's combined format do, then the time the request took
in seconds (nginx's ``$request_time``), from its first byte to its response.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from barehttp.protocol.events import RequestHead
from barehttp.server.access_log_stream import direct_stream

access_logger = logging.getLogger("barehttp.access")


def _write(line: str) -> None:
    """One finished line: straight to the command line's stream when it is the
    logger's only handler (a record costs more than a small request), else as a
    record on ``barehttp.access``, for any logging set-up."""
    stream = direct_stream(access_logger)
    if stream is not None:
        stream.write_line(line)
    else:
        access_logger.info("%s", line)


ACCESS_LOG_FORMATS = ("common", "combined")
# Client-chosen text in a log line: quotes and control bytes could forge fields or
# lines, so they are written as \xHH (as nginx escapes them).
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f-\xff]')


def _escape(text: str) -> str:
    return _UNSAFE.sub(lambda match: f"\\x{ord(match.group()):02X}", text)


_CLF_TIME = "%d/%b/%Y:%H:%M:%S %z"


class ClfStamp:
    """The CLF time of the current second, formatted once a second (``strftime``
    with the local zone costs more than the rest of a log line)."""

    __slots__ = ("_clock", "_second", "_text")

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # wall-clock seconds
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(self._clock())
        if second != self._second:
            # The text first: a thread that sees the new second then reads its text.
            self._text = time.strftime(_CLF_TIME, time.localtime(second))
            self._second = second
        return self._text


_stamp = ClfStamp()


def log_access(
    head: RequestHead,
    client: str,
    status: int,
    bytes_sent: int,
    *,
    log_format: str = "common",
    duration_s: float = 0.0,
) -> None:
    """Write one line for a finished request on ``barehttp.access``."""
    if not access_logger.isEnabledFor(logging.INFO):  # filtered out: format nothing
        return
    stamp = _stamp.now()
    request_line = f"{head.method} {head.target} {head.http_version}"
    line = '%s - - [%s] "%s" %d %s' % (  # noqa: UP031 - the CLF layout, spelled as such
        client,
        stamp,
        request_line.replace('"', "%22"),
        status,
        bytes_sent or "-",
    )
    if log_format == "combined":
        referer = _escape(head.headers.get("referer") or "-")
        agent = _escape(head.headers.get("user-agent") or "-")
        line += f' "{referer}" "{agent}" {duration_s:.3f}'
    _write(line)


def log_refusal(client_host: str, status: int, body_bytes: int) -> None:
    """One line for a request the server refused (400, 408, 413, 414, 431, 501, 503, 505).

    The request line is "-": it may be missing, partial or the very thing refused,
    and echoing client bytes into the log is not worth the risk (as nginx logs "-").
    """
    if not access_logger.isEnabledFor(logging.INFO):
        return
    _write(f'{client_host} - - [{_stamp.now()}] "-" {status} {body_bytes or "-"}')
