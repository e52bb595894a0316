"""Every bound the server enforces, in one frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass

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

    # Timeouts (server layer), seconds.
    header_timeout_s: float = 10.0  # 408, then close: slowloris cannot keep a head open
    body_timeout_s: float = 30.0  # 408/close: longest pause between body bytes
    # 408/close: after body_timeout_s of grace, a body must keep this average rate, so
    # a client trickling a byte now and then (R-U-Dead-Yet) cannot hold a worker; 0: off.
    min_body_rate_bytes_per_s: int = 512
    idle_timeout_s: float = 5.0  # keep-alive connection with no request is closed
    write_timeout_s: float = 30.0  # client that does not read its response is dropped
    linger_s: float = 0.05  # a worker waits this long for the next request before parking
    shutdown_timeout_s: float = 10.0  # in-flight requests get this long after SIGTERM
    # While draining, a keep-alive connection that just had a response waits this long
    # for the client's next request (answered with Connection: close), then is closed:
    # closing at once would reset a request already on its way.
    drain_keep_alive_s: float = 1.0

    # Concurrency bounds (server layer).
    worker_threads: int = 64  # threads running handlers
    worker_queue_count: int = 1_024  # 503 when full
    max_connections: int = 10_000  # 503 and close beyond this many open connections
    listen_backlog: int = 2_048  # kernel accept queue

    # Buffer sizes.
    recv_bytes: int = 65_536  # one recv() call
    send_file_chunk_bytes: int = 262_144  # chunk for file bodies when sendfile is unavailable
