"""Acceptor: takes the ASGI host's connections off a listening socket, a few at a time.

asyncio's own server (``loop.create_server``) accepts up to the listen backlog
(2,048) in one go, before any connection's protocol runs and can be refused: a
burst over ``max_connections`` then takes that many descriptors, past the open
files limit ``accept()`` fails with EMFILE, asyncio logs an error and stops
accepting for a second, and clients wait unanswered. Here at most
``START_BATCH`` connections are being set up at once (well under
``fd_reserve_count``), a connection over the cap is answered 503 and closed at
once, as the threaded server does, and EMFILE backs off with ``AcceptBackoff``
(logged at most once a second).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable

from barehttp.asgi.state import ServerState
from barehttp.server.fd_limits import AcceptBackoff

logger = logging.getLogger("barehttp.asgi")

# Connections accepted but not yet registered (their transport being made, or a TLS
# handshake under way): each holds a descriptor, so this stays under fd_reserve_count.
START_BATCH = 16
# accept() calls per wakeup at most, refusals included, so that a flood of
# connections over the cap does not hold the loop from the open ones.
ACCEPT_PER_WAKEUP = 256
# Over max_connections: answered, then closed (RFC 9110 §15.6.4). No Date: a 5xx may
# omit it (§6.6.1). On a TLS listener the connection is closed without a word.
OVER_CAPACITY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)


class Acceptor:
    """Accepts on one listening socket and hands each connection to ``protocol_factory``."""

    def __init__(
        self,
        sock: socket.socket,
        state: ServerState,
        protocol_factory: Callable[[], asyncio.Protocol],
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self._sock = sock
        self._state = state
        self._factory = protocol_factory
        self._ssl_context = ssl_context
        self._loop = asyncio.get_running_loop()
        self._backoff = AcceptBackoff()
        self._starting: set[asyncio.Task[None]] = set()
        self._is_reading = False
        self._is_closed = False

    def start(self) -> None:
        self._sock.setblocking(False)
        self._resume()

    def close(self) -> None:
        """Stop accepting; the listening socket is closed (as ``asyncio.Server.close``)."""
        self._is_closed = True
        self._pause()
        self._sock.close()

    def _pause(self) -> None:
        if self._is_reading:
            self._is_reading = False
            self._loop.remove_reader(self._sock.fileno())

    def _resume(self) -> None:
        if not self._is_reading and not self._is_closed:
            self._is_reading = True
            self._loop.add_reader(self._sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        limits = self._state.limits
        for _ in range(ACCEPT_PER_WAKEUP):
            if len(self._starting) >= START_BATCH:
                self._pause()  # resumed when one of those connections is set up
                return
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # gone before we took it
            except OSError as error:
                # EMFILE/ENFILE/ENOBUFS above all: back off rather than spin, as the
                # threaded server's accept loop does (server/listener.py).
                self._pause()
                self._loop.call_later(self._backoff.failed(error), self._resume)
                return
            self._backoff.succeeded()
            if len(self._state.connections) + len(self._starting) >= limits.max_connections:
                self._refuse(conn)
                continue
            conn.setblocking(False)
            task = self._loop.create_task(self._start_connection(conn))
            self._starting.add(task)
            task.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[None]) -> None:
        self._starting.discard(task)
        self._resume()

    async def _start_connection(self, conn: socket.socket) -> None:
        timeout = self._state.limits.header_timeout_s if self._ssl_context else None
        try:
            # A TLS handshake is part of the request head's time (slowloris).
            await self._loop.connect_accepted_socket(
                self._factory, conn, ssl=self._ssl_context, ssl_handshake_timeout=timeout
            )
        except OSError as error:  # a reset, a failed or slow TLS handshake
            logger.debug("connection not set up: %r", error)
            conn.close()

    def _refuse(self, conn: socket.socket) -> None:
        if self._ssl_context is None:
            conn.setblocking(False)
            try:
                conn.send(OVER_CAPACITY)
            except OSError:
                pass
        conn.close()
