"""The PostgreSQL connection pool: its bounds and timeouts, and how each connection is set up."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool

Pool = psycopg_pool.ConnectionPool[psycopg.Connection[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolSettings:
    """Bounds of one process's connection pool; each limit ends in StorageUnavailable (503)."""

    # Every instance holds up to max_connections; all instances together must stay
    # under the server's max_connections (PostgreSQL's default is 100).
    min_connections: int = 1
    max_connections: int = 10
    acquire_timeout_s: float = 2.0  # wait for a free connection, then 503
    connect_timeout_s: int = 3  # libpq connect_timeout: whole seconds, at least 2
    statement_timeout_s: float = 5.0  # the server cancels a longer statement: 503
    # A lost connection is re-made with backoff for this long; after that the next
    # request starts afresh, so recovery after an outage takes at most about this.
    reconnect_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_connections <= self.max_connections:
            raise ValueError("min_connections must be from 0 to max_connections")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.connect_timeout_s < 2:  # libpq treats 1 as 2 and 0 as "wait forever"
            raise ValueError("connect_timeout_s must be at least 2")
        for name in ("acquire_timeout_s", "statement_timeout_s", "reconnect_timeout_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number of seconds above 0")


def connect_options(settings: PoolSettings) -> dict[str, Any]:
    """Keyword arguments for every connection (the pool's and the migration's)."""
    return {
        "autocommit": True,  # each statement commits alone; transactions are explicit
        "connect_timeout": settings.connect_timeout_s,
        "application_name": "barehttp",
        # A server that vanishes (host down, cable cut) sends no error: without these a
        # TCP read waits for the kernel's retransmissions, many minutes, and the
        # statement timeout cannot help since the server runs it. Unix sockets ignore
        # both: unacknowledged data fails after tcp_user_timeout ms, a silent peer
        # after 10 s + 3 probes 2 s apart.
        "tcp_user_timeout": int(
            (settings.statement_timeout_s + 2 * settings.connect_timeout_s) * 1000
        ),
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 2,
        "keepalives_count": 3,
    }


def open_pool(conninfo: str, settings: PoolSettings) -> Pool:
    """A started pool; connections are made in the background, with backoff when down."""
    statement_timeout_ms = int(settings.statement_timeout_s * 1000)

    def configure(connection: psycopg.Connection[Any]) -> None:
        connection.execute(f"SET statement_timeout = {statement_timeout_ms}".encode())

    return psycopg_pool.ConnectionPool(
        conninfo,
        min_size=settings.min_connections,
        max_size=settings.max_connections,
        timeout=settings.acquire_timeout_s,
        reconnect_timeout=settings.reconnect_timeout_s,
        kwargs=connect_options(settings),
        configure=configure,
        name="barehttp",
        open=True,
    )
