"""Server: ties listeners, the worker pool and the reactor together; shuts down cleanly."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable

from barehttp.protocol.errors import ServiceUnavailable
from barehttp.protocol.forwarded import TrustedProxies
from barehttp.protocol.limits import Limits
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.server.access_log import ACCESS_LOG_FORMATS
from barehttp.server.connection import Connection
from barehttp.server.context import ServerContext
from barehttp.server.fd_limits import (
    connection_capacity,
    count_open_descriptors,
    raise_open_files_limit,
)
from barehttp.server.handler import Exchange, Handler
from barehttp.server.listener import (
    ACCEPTOR_EXTRA_DESCRIPTORS,
    Acceptor,
    bind_listeners,
    describe_listener,
    socket_address,
)
from barehttp.server.pool import WorkerPool
from barehttp.server.proxy_headers import ProxyHeaders
from barehttp.server.reactor import Reactor
from barehttp.server.websocket_hub import WebSocketHub

logger = logging.getLogger("barehttp.server")

ShutdownHook = Callable[[], None]

# Sent without a worker to connections over a cap, then closed.
_REFUSALS = {
    503: b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    429: b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
}


class Server:
    """An HTTP/1.1 server running ``handler`` for every request.

    ``start()`` returns at once (threads do the work); ``serve_forever()`` blocks
    until ``request_shutdown()`` (called by the signal handlers), then drains.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        host: str | None = "127.0.0.1",
        port: int = 8000,
        limits: Limits | None = None,
        access_log: bool = True,
        listeners: list[socket.socket] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        trusted_proxies: TrustedProxies | None = None,
        access_log_format: str = "common",
        clock: Callable[[], float] = time.monotonic,
        websocket_limits: WebSocketLimits | None = None,
    ) -> None:
        self.handler = handler
        # Bounds and timings of upgraded connections (websocket_hub.py).
        self.websocket_limits = websocket_limits or WebSocketLimits()
        # The clock of connection and reactor deadlines (tests pass a fake one).
        self.clock = clock
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.access_log = access_log
        if access_log_format not in ACCESS_LOG_FORMATS:
            raise ValueError(f"access_log_format must be one of {ACCESS_LOG_FORMATS}")
        self.access_log_format = access_log_format
        self._listeners = listeners
        self.ssl_context = ssl_context
        # Peers whose proxy headers are believed (see proxy_headers.py); None: nobody's.
        self.trusted_proxies = trusted_proxies
        self._acceptors: list[Acceptor] = []
        self._hooks: list[ShutdownHook] = []
        self._shutdown_requested = threading.Event()
        self._context: ServerContext | None = None
        # Drain and stop after about this many requests (worker recycling); 0 = never.
        self.max_requests = 0
        # With TLS: the port answering plain HTTP, named in the 400 to plain-HTTP clients.
        self.plain_http_port: int | None = None
        self.announce = True  # log "listening on" for each socket at start()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs actually bound (port 0 resolves here); not Unix sockets."""
        return [
            socket_address(a.listener.getsockname())
            for a in self._acceptors
            if a.listener.family != socket.AF_UNIX
        ]

    @property
    def listening_sockets(self) -> list[socket.socket]:
        """The sockets accepted on; empty before ``start()``."""
        return [acceptor.listener for acceptor in self._acceptors]

    @property
    def context(self) -> ServerContext:
        if self._context is None:
            raise RuntimeError("server not started")
        return self._context

    def add_shutdown_hook(self, hook: ShutdownHook) -> None:
        """Run ``hook`` once, after in-flight requests finished during shutdown."""
        self._hooks.append(hook)

    def start(self) -> None:
        limits = self.limits
        open_files_limit = raise_open_files_limit()
        listeners = self._listeners or bind_listeners(self.host, self.port, limits)
        reactor = Reactor(limits.reactor_sweep_s, self.clock)
        pool = WorkerPool(
            limits.worker_threads,
            limits.worker_queue_count,
            poller_count=limits.poller_threads,
            handoff_s=limits.poller_handoff_s,
            take_ready=reactor.take_ready,
            wake=reactor.wake,
        )
        handler = self.handler
        if self.trusted_proxies is not None:
            handler = ProxyHeaders(handler, self.trusted_proxies)
        if self.max_requests > 0:
            handler = _RetiringHandler(handler, self.max_requests, self.request_shutdown)

        def dispatch(job: Callable[[], None]) -> None:
            pool.submit(job, bounded=False)  # a message for a connection already open

        websockets = WebSocketHub(
            self.websocket_limits,
            dispatch,
            sweep_interval_s=limits.reactor_sweep_s,
            clock=self.clock,
        )
        self._context = ServerContext(
            handler=handler,
            websockets=websockets,
            limits=limits,
            pool=pool,
            reactor=reactor,
            clock=self.clock,
            access_log=self.access_log,
            plain_http_port=self.plain_http_port,
            # The pool's threads and the reactor's epoll are open by now; the
            # acceptors, opened below, add their own descriptors.
            connection_limit=connection_capacity(
                limits,
                open_files_limit,
                count_open_descriptors() + ACCEPTOR_EXTRA_DESCRIPTORS * len(listeners),
            ),
            access_log_format=self.access_log_format,
        )
        self._acceptors = [Acceptor(sock, limits, self._accept) for sock in listeners]
        scheme = "https" if self.ssl_context else "http"
        for acceptor in self._acceptors if self.announce else []:
            logger.info("listening on %s", describe_listener(acceptor.listener, scheme))

    def _accept(self, sock: socket.socket, client_address: tuple[str, int]) -> None:
        context = self.context
        refusal = context.try_open_connection(client_address[0])
        if refusal:
            sock.setblocking(False)
            try:
                sock.send(_REFUSALS[refusal])
            except OSError:
                pass
            sock.close()
            return
        try:
            server_address = socket_address(sock.getsockname())
            if self.ssl_context is not None:
                # No I/O here: the handshake happens in a worker (see Connection).
                sock = self.ssl_context.wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False
                )
            connection = Connection(sock, client_address, server_address, context)
        except BaseException:
            context.connection_closed(
                client_address[0]
            )  # counted above, never to be closed by a Connection
            raise
        if not context.pool.submit(connection.serve):
            connection.reject(ServiceUnavailable("server is at capacity, retry later"))

    def request_shutdown(self) -> None:
        """Ask ``serve_forever`` to drain and return (safe from a signal handler)."""
        self._shutdown_requested.set()

    def serve_forever(self) -> bool:
        """Serve until ``request_shutdown()``, then drain; False if the drain was cut short."""
        if self._context is None:
            self.start()
        # Wake now and then: a signal handler only runs between waits.
        while not self._shutdown_requested.wait(0.5):
            pass
        return self.shutdown()

    def shutdown(self, timeout: float | None = None) -> bool:
        """Stop accepting, finish in-flight requests, close idle connections, run hooks.

        A keep-alive connection is not closed under its client, who may be
        sending the next request right now: that request is answered, with
        ``Connection: close``, if it comes within ``limits.drain_keep_alive_s``.
        Returns False if requests were still running when ``timeout`` (default
        ``limits.shutdown_timeout_s``) passed.
        """
        context = self.context
        limits = self.limits
        context.draining = True
        for acceptor in self._acceptors:
            acceptor.stop()
        context.reactor.expire_readers_by(self.clock() + limits.drain_keep_alive_s)
        if context.websockets is not None:  # RFC 6455 §7.4.1: 1001, going away
            context.websockets.go_away()
        # Each connection now closes by itself: after its response, or once idle.
        closed = context.wait_all_closed(limits.shutdown_timeout_s if timeout is None else timeout)
        context.reactor.close_all()  # idle ones, past the deadline: no request is lost
        drained = closed or context.pool.wait_idle(0.0)
        if not drained:
            logger.warning("shutdown deadline passed with requests still running")
        for hook in self._hooks:
            try:
                hook()
            except Exception:
                logger.exception("shutdown hook failed")
        context.pool.stop(timeout=0.1)
        context.reactor.stop()
        if context.websockets is not None:
            context.websockets.stop()
        logger.info("server stopped")
        return drained


class _RetiringHandler:
    """Counts requests and asks the server to drain once ``limit`` were served."""

    def __init__(self, handler: Handler, limit: int, retire: Callable[[], None]) -> None:
        self._handler = handler
        self._remaining = limit
        self._retire = retire

    def __call__(self, exchange: Exchange) -> None:
        self._remaining -= 1  # racy under threads by a request or two; a bound, not a count
        if self._remaining == 0:
            logger.info("served max_requests: draining for a fresh worker")
            self._retire()
        self._handler(exchange)
