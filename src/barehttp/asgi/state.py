"""What every connection of one ASGI server shares: the app, its bounds, the registry."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from barehttp.asgi.loader import ASGIApp
from barehttp.protocol.forwarded import TrustedProxies
from barehttp.protocol.limits import Limits
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.protocol.writer import format_http_date

logger = logging.getLogger("barehttp.asgi")
ASGI_VERSION = {"version": "3.0", "spec_version": "2.3"}


class Closable(Protocol):
    def shutdown(self) -> None:
        """Finish what is in flight, then close; WebSockets get a Close 1001."""

    def abort(self) -> None:
        """Close now."""


@dataclass(slots=True, kw_only=True)
class ServerState:
    app: ASGIApp
    limits: Limits
    websocket_limits: WebSocketLimits = field(default_factory=WebSocketLimits)
    root_path: str = ""
    tls: bool = False  # the listeners speak TLS: schemes https and wss
    trusted_proxies: TrustedProxies | None = None  # whose proxy headers are believed
    access_log: bool = True
    access_log_format: str = "common"
    lifespan_state: dict[str, Any] = field(default_factory=dict)
    connections: set[Closable] = field(default_factory=set)
    shutting_down: bool = False
    drained: asyncio.Event | None = None  # set once the last connection closes, at shutdown
    # Worker recycling: drain (``retire``) after this many responses; 0 = never.
    max_requests: int = 0
    responses: int = 0
    retire: Callable[[], None] | None = None
    _date_second: int = -1
    _date: str = ""

    def forget(self, connection: Closable) -> None:
        """A connection closed; at shutdown, the last one ends the drain."""
        self.connections.discard(connection)
        if not self.connections and self.drained is not None:
            self.drained.set()

    def count_response(self) -> None:
        """One more response complete; the ``max_requests``-th retires this process."""
        self.responses += 1
        if self.responses == self.max_requests and self.retire is not None:
            logger.info("served max_requests: draining for a fresh worker")
            self.retire()

    def http_date(self) -> str:
        """The Date field value (RFC 9110 §6.6.1), formatted once a second."""
        now = int(time.time())
        if now != self._date_second:
            self._date_second = now
            self._date = format_http_date(now)
        return self._date
