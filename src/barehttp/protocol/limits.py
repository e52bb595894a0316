"""Every bound the server enforces, in one frozen dataclass."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

# Shortest timeout accepted: SO_RCVTIMEO/SO_SNDTIMEO count in microseconds, and a
# value that rounds to 0 there means "wait forever".
MIN_TIMEOUT_S = 0.001
# Fields where 0 has a documented meaning (no body allowed, no rate floor, no reserve).
_ZERO_ALLOWED = frozenset({"max_body_bytes", "min_body_rate_bytes_per_s", "fd_reserve_count"})
_OPTIONAL = frozenset({"max_connections_per_ip"})  # None: no such cap
_ZERO_SECONDS_ALLOWED = frozenset({"shutdown_timeout_s"})  # 0: in-flight requests get no time

# max_body_bytes meaning "no cap" (a hosted WSGI app decides): above any Content-Length
# the parser accepts (18 digits), so nothing is ever refused for its size.
NO_BODY_LIMIT = 10**18


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Named, configurable bounds. The comment gives what happens when one is hit."""

    # Parser bounds (protocol layer).
    max_request_line_bytes: int = 8_192  # 414 URI Too Long
    max_header_bytes: int = 32_768  # 431: whole head, request line excluded
    max_header_count: int = 100  # 431: number of field lines
    max_body_bytes: int = 1_048_576  # 413 Content Too Large (web layer buffers up to this)
    max_chunk_line_bytes: int = 4_096  # 400: chunk-size line incl. extensions
    max_trailer_bytes: int = 8_192  # 431: trailer section of a chunked body
    max_chunk_count: int = 16_384  # 413: chunks in one chunked body (each costs CPU)

    # Timeouts (server layer), seconds.
    # 408, then close: slowloris cannot keep a head open. Also the wait for a new
    # connection's first request (as nginx's client_header_timeout).
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0  # 408/close: longest pause between body bytes
    # 408/close: after body_timeout_s of grace, a body must keep this average rate, so
    # a client trickling a byte now and then (R-U-Dead-Yet) cannot hold a worker; 0: off.
    min_body_rate_bytes_per_s: int = 512
    # After a response, the rest of an unread request body is read and dropped for at
    # most this long (worker time), then the connection is closed.
    drain_timeout_s: float = 0.1
    idle_timeout_s: float = 5.0  # kept-alive connection (after a response) with no request
    write_timeout_s: float = 30.0  # client that does not read its response is dropped
    linger_s: float = 0.05  # a worker waits this long for the next request before parking
    # One TLS read (handshake included) waits at most this long, then the connection is
    # parked: SO_RCVTIMEO, which bounds plain reads by linger_s, does not bound TLS ones.
    tls_read_timeout_s: float = 0.05
    # A response's last bytes the client has not taken after this long of a full socket
    # buffer go to the reactor (see server/outbox.py); the worker is free.
    write_handover_s: float = 0.05
    # After an error response, request bytes still arriving are read and dropped for at
    # most this long before closing, so that no reset destroys the response.
    lingering_close_s: float = 0.05
    # How often the reactor checks parked connections' deadlines (and by how much one
    # may be overrun).
    reactor_sweep_s: float = 0.25
    shutdown_timeout_s: float = 10.0  # in-flight requests get this long after SIGTERM
    # While draining, a keep-alive connection that just had a response waits this long
    # for the client's next request (answered with Connection: close), then is closed:
    # closing at once would reset a request already on its way.
    drain_keep_alive_s: float = 1.0

    # Concurrency bounds (server layer).
    worker_threads: int = 64  # threads running handlers
    # Of those, how many wait for ready connections and run handlers at once; the rest
    # are spares (server/pool.py). More threads on one GIL made a long latency tail:
    # 64 gave a p99 3-6x granian's at 200 connections, 2 about 1x (docs/latency.md).
    poller_threads: int = 2
    # A thread inside one job (a handler, a slow client) for this long hands its place
    # to a spare (measured between 1 and 2 times this), so a blocking handler never
    # stops the others; also how often the pool's monitor looks.
    poller_handoff_s: float = 0.001
    worker_queue_count: int = 1_024  # 503 when full
    max_connections: int = 10_000  # 503 and close beyond this many open connections
    # 429 and close beyond this many open connections from one client address; None: no
    # cap (behind a proxy every client shares its address: cap there, not here).
    max_connections_per_ip: int | None = None
    listen_backlog: int = 2_048  # kernel accept queue
    # Descriptors kept free below the open files limit (max_connections is lowered to
    # fit): a connection over the cap is still accepted and answered 503.
    fd_reserve_count: int = 64

    # Buffer sizes.
    recv_bytes: int = 65_536  # one recv() call
    # A request body is gathered (connection parked, no worker) until it is complete or
    # this much of it came, then the handler runs: a slow sender holds no worker thread.
    body_prebuffer_bytes: int = 65_536
    # Over all connections: past this many gathered bytes, a body is handed to its handler
    # at once (streamed, under the minimum rate), so memory stays bounded (64 MiB).
    max_gathered_body_bytes: int = 67_108_864
    send_file_chunk_bytes: int = 262_144  # chunk for file bodies when sendfile is unavailable
    # Bodies up to this size are joined with the head and written in one send(); larger
    # ones go out with the head in one gather write (sendmsg): copying would cost more.
    single_send_max_bytes: int = 16_384
    # Request bytes read and dropped after a plain-HTTP request to a TLS port is answered.
    max_plain_http_discard_bytes: int = 65_536

    def __post_init__(self) -> None:
        """Refuse nonsense, naming the field: a zero or negative timeout is never
        "no timeout" (``linger_s=0`` would make every read wait forever)."""
        for item in fields(self):
            name = item.name
            value = getattr(self, name)
            if value is None and name in _OPTIONAL:
                continue
            if name.endswith("_s") and not name.endswith("_per_s"):
                _check_seconds(name, value, zero_allowed=name in _ZERO_SECONDS_ALLOWED)
            else:
                _check_count(name, value, 0 if name in _ZERO_ALLOWED else 1)


def _check_seconds(name: str, value: object, *, zero_allowed: bool) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or (value < MIN_TIMEOUT_S and not (zero_allowed and value == 0))
    ):
        least = f"0 or >= {MIN_TIMEOUT_S}" if zero_allowed else f">= {MIN_TIMEOUT_S}"
        raise ValueError(f"Limits.{name} must be a finite number of seconds, {least}")


def _check_count(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"Limits.{name} must be a whole number >= {minimum}")
