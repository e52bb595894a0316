"""Common Log Format lines for responses the server writes itself, before any handler."""

from __future__ import annotations

import logging
import time

access_logger = logging.getLogger("barehttp.access")


def log_refusal(client_host: str, status: int, body_bytes: int) -> None:
    """One line for a request the server refused (400, 408, 413, 414, 431, 501, 503, 505).

    The request line is "-": it may be missing, partial or the very thing refused,
    and echoing client bytes into the log is not worth the risk (as nginx logs "-").
    """
    access_logger.info(
        '%s - - [%s] "-" %d %s',
        client_host,
        time.strftime("%d/%b/%Y:%H:%M:%S %z"),
        status,
        body_bytes or "-",
    )
