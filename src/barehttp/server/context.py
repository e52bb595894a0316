"""ServerContext: what every connection of one server shares."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from barehttp.protocol.limits import Limits
from barehttp.protocol.writer import format_http_date
from barehttp.server.handler import Handler
from barehttp.server.pool import WorkerPool
from barehttp.server.reactor import Reactor
from barehttp.server.websocket_hub import WebSocketHub


@dataclass(eq=False)
class ServerContext:
    handler: Handler
    limits: Limits
    pool: WorkerPool
    reactor: Reactor
    access_log: bool = True
    # limits.max_connections, lowered to fit the open files limit (see fd_limits.py).
    connection_limit: int = 0
    access_log_format: str = "common"  # or "combined" (see access_log.py)
    draining: bool = False  # set on shutdown: finish what runs or arrives, then close
    plain_http_port: int | None = None  # named to plain-HTTP clients of a TLS port
    open_connections: int = 0
    gathered_bytes: int = 0  # request body bytes held before dispatch, all connections
    # Upgraded connections (websocket_hub.py); None: WebSocket upgrades are refused.
    websockets: WebSocketHub | None = None
    # The clock of every connection deadline (tests pass a fake one).
    clock: Callable[[], float] = time.monotonic
    _count_lock: threading.Lock = field(default_factory=threading.Lock)
    _open_by_address: dict[str, int] = field(default_factory=dict)  # per-address cap only
    _all_closed: threading.Condition = field(init=False)
    _date_second: int = -1
    _date: str = ""

    def __post_init__(self) -> None:
        self._all_closed = threading.Condition(self._count_lock)

    def http_date(self) -> str:
        """The Date header value, formatted at most once a second."""
        now = time.time()
        second = int(now)
        if second != self._date_second:
            self._date = format_http_date(now)
            self._date_second = second
        return self._date

    def try_open_connection(self, client_ip: str) -> int:
        """Count a new connection from ``client_ip``: 0, or the status to refuse it with
        (503 over ``max_connections``, 429 over ``max_connections_per_ip``)."""
        per_address = self.limits.max_connections_per_ip
        with self._count_lock:
            if self.open_connections >= (self.connection_limit or self.limits.max_connections):
                return 503
            if per_address is not None:
                count = self._open_by_address.get(client_ip, 0)
                if count >= per_address:
                    return 429  # RFC 6585 §4
                self._open_by_address[client_ip] = count + 1
            self.open_connections += 1
            return 0

    def gather(self, count: int) -> bool:
        """Count ``count`` body bytes held before dispatch (negative: let go); False
        while the total is over ``limits.max_gathered_body_bytes``."""
        with self._count_lock:
            self.gathered_bytes += count
            return self.gathered_bytes <= self.limits.max_gathered_body_bytes

    def connection_closed(self, client_ip: str) -> None:
        with self._count_lock:
            self.open_connections -= 1
            if self.limits.max_connections_per_ip is not None:
                count = self._open_by_address.pop(client_ip, 1) - 1
                if count:
                    self._open_by_address[client_ip] = count
            if self.open_connections == 0:
                self._all_closed.notify_all()

    def wait_all_closed(self, timeout: float) -> bool:
        """Wait until no connection is open; False if ``timeout`` passed first."""
        with self._all_closed:
            return self._all_closed.wait_for(lambda: self.open_connections == 0, timeout)
