"""AsgiHost: one process's ASGI server on its own event loop, started, served, drained.

The same body runs a single-process ``barehttp asgi`` and each pre-forked
worker (it fits ``server.workers.WorkerBody``): ``start()`` runs the lifespan
startup and opens the listeners, ``serve()`` waits for ``request_shutdown()``
(a signal handler or the orphan watch, from any thread), drains, runs the
lifespan shutdown and returns the exit status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl

from barehttp.asgi.acceptor import Acceptor
from barehttp.asgi.http_connection import HttpConnection
from barehttp.asgi.lifespan import Lifespan, LifespanFailure
from barehttp.asgi.state import ServerState
from barehttp.server.exit_codes import exit_status
from barehttp.server.listener import describe_listener
from barehttp.server.workers import WorkerStartError

logger = logging.getLogger("barehttp.asgi")


class AsgiHost:
    def __init__(
        self,
        state: ServerState,
        listeners: list[socket.socket],
        *,
        lifespan_mode: str,
        ssl_context: ssl.SSLContext | None,
        announce: bool = True,
        plain_http_port: int | None = None,
    ) -> None:
        self._state = state
        self._listeners = listeners
        self._ssl_context = ssl_context
        self._announce = announce  # log "listening on" (a supervisor says it once for all)
        self._plain_http_port = plain_http_port  # with TLS: where plain HTTP is redirected
        self._lifespan = Lifespan(state.app, lifespan_mode, state.lifespan_state)
        self._runner = asyncio.Runner()
        self._loop = self._runner.get_loop()
        self._stop = asyncio.Event()
        self._acceptors: list[Acceptor] = []
        state.retire = self.request_shutdown  # after max_requests responses

    @property
    def listening_sockets(self) -> list[socket.socket]:
        return list(self._listeners)

    def start(self) -> None:
        """Lifespan startup, then accept connections.

        Raises:
            WorkerStartError: the application's startup failed; the message is its own.
        """
        try:
            self._runner.run(self._start())
        except LifespanFailure as error:
            self._runner.close()
            raise WorkerStartError(f"application startup failed: {error}") from None

    def serve(self) -> int:
        """Serve until ``request_shutdown()``; the exit status (0: everything drained)."""
        try:
            return self._runner.run(self._serve())
        finally:
            self._runner.close()

    def request_shutdown(self) -> None:
        """Drain and stop; safe from a signal handler or another thread."""
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nothing to stop
            self._loop.call_soon_threadsafe(self._stop.set)

    async def _start(self) -> None:
        await self._lifespan.startup()
        state, ssl_context = self._state, self._ssl_context
        for sock in self._listeners:
            acceptor = Acceptor(
                sock,
                lambda: HttpConnection(state),
                ssl_context=ssl_context,
                limits=state.limits,
                open_connections=lambda: len(state.connections),
                plain_http_port=self._plain_http_port,
            )
            acceptor.start()
            self._acceptors.append(acceptor)
            if self._announce:
                scheme = "https" if ssl_context else "http"
                logger.info("listening on %s (ASGI)", describe_listener(sock, scheme))

    async def _serve(self) -> int:
        await self._stop.wait()
        drained = await self._drain()
        try:
            await self._lifespan.shutdown()
        except LifespanFailure as error:
            logger.error("application shutdown failed: %s", error)
        return exit_status(drained)

    async def _drain(self) -> bool:
        """Stop accepting, let in-flight requests finish (WebSockets get a Close 1001)."""
        state = self._state
        for acceptor in self._acceptors:
            acceptor.close()
        state.shutting_down = True
        for acceptor in self._acceptors:  # connections accepted just before: drained too
            await acceptor.settle(state.limits.shutdown_timeout_s)
        state.drained = asyncio.Event()
        for connection in list(state.connections):
            connection.shutdown()
        if state.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.drained.wait(), state.limits.shutdown_timeout_s)
        drained = not state.connections
        if not drained:
            logger.warning("%d connection(s) cut at the shutdown timeout", len(state.connections))
            for connection in list(state.connections):
                connection.abort()
            await asyncio.sleep(0)
        return drained
