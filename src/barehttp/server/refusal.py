"""A refusal: the error response sent when no handler answers (bad request, timeout, full queue)."""

from __future__ import annotations

from barehttp.protocol.errors import HTTPError, format_error_body
from barehttp.protocol.writer import format_head
from barehttp.server.access_log import log_refusal
from barehttp.server.context import ServerContext
from barehttp.server.transport import Transport


def send_refusal(
    transport: Transport, context: ServerContext, client_ip: str, error: HTTPError
) -> None:
    """Best-effort error response before closing (framing may be broken); logged."""
    body = format_error_body(error)
    head = format_head(
        "HTTP/1.1",
        error.status,
        [("Content-Type", "text/plain; charset=utf-8")],
        date=context.http_date(),
        content_length=len(body),
        chunked=False,
        keep_alive=False,
    )
    try:
        transport.sendall(head + body)
    except OSError:
        pass
    if context.access_log:  # refused before any handler: logged like any other
        log_refusal(client_ip, error.status, len(body))
