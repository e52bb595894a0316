"""Plain HTTP sent to the ASGI host's TLS port: the threaded server's readable 400.

The acceptor peeks at a TLS connection's first byte before any handshake (see
``server/plain_http.py`` for the rule and the answer's text, shared with the
threaded server). A plain-HTTP client gets the 400 from ``PlainHttpRefusal``,
which then drops what the client still sends for ``lingering_close_s`` (at
most ``max_plain_http_discard_bytes``), so that the close is a FIN, not a reset
that could make the client lose the answer unread.
"""

from __future__ import annotations

import asyncio
from typing import cast

from barehttp.protocol.limits import Limits


class PlainHttpRefusal(asyncio.Protocol):
    def __init__(self, answer: bytes, limits: Limits) -> None:
        self._answer = answer
        self._limits = limits
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._dropped = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport = cast(asyncio.Transport, transport)
        transport.write(self._answer)
        if transport.can_write_eof():
            transport.write_eof()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._limits.lingering_close_s, transport.close)

    def data_received(self, data: bytes) -> None:
        self._dropped += len(data)
        if self._dropped > self._limits.max_plain_http_discard_bytes and self._transport:
            self._transport.close()

    def eof_received(self) -> bool:
        return False  # the client finished: close now

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
