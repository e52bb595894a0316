"""ServerContext: what every connection of one server shares."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from barehttp.protocol.limits import Limits
from barehttp.protocol.writer import format_http_date
from barehttp.server.handler import Handler
from barehttp.server.pool import WorkerPool
from barehttp.server.reactor import Reactor


@dataclass(eq=False)
class ServerContext:
    handler: Handler
    limits: Limits
    pool: WorkerPool
    reactor: Reactor
    access_log: bool = True
    access_log_format: str = "common"  # or "combined" (see access_log.py)
    draining: bool = False  # set on shutdown: finish what runs or arrives, then close
    open_connections: int = 0
    _count_lock: threading.Lock = field(default_factory=threading.Lock)
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

    def try_open_connection(self) -> bool:
        """Count a new connection; False if ``max_connections`` are already open."""
        with self._count_lock:
            if self.open_connections >= self.limits.max_connections:
                return False
            self.open_connections += 1
            return True

    def connection_closed(self) -> None:
        with self._count_lock:
            self.open_connections -= 1
            if self.open_connections == 0:
                self._all_closed.notify_all()

    def wait_all_closed(self, timeout: float) -> bool:
        """Wait until no connection is open; False if ``timeout`` passed first."""
        with self._all_closed:
            return self._all_closed.wait_for(lambda: self.open_connections == 0, timeout)
