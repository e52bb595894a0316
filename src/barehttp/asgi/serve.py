"""serve_asgi: listeners, the event loop, lifespan, signals and the graceful drain."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
from collections.abc import Callable
from typing import Any

from barehttp.asgi.descriptors import fit_connections_to_descriptors
from barehttp.asgi.http_connection import HttpConnection
from barehttp.asgi.lifespan import Lifespan, LifespanFailure
from barehttp.asgi.loader import ASGIApp
from barehttp.asgi.state import ServerState
from barehttp.protocol.forwarded import DEFAULT_FORWARDED_ALLOW_IPS, TrustedProxies
from barehttp.protocol.limits import Limits
from barehttp.server.listener import describe_listener
from barehttp.server.signals import FORCED_EXIT_STATUS, exit_status
from barehttp.server.tls import make_server_context

logger = logging.getLogger("barehttp.asgi")
LIFESPAN_FAILED_STATUS = 1  # startup failed: the app's message is logged


class NotYetSupported(Exception):
    """An option ``barehttp asgi`` does not honour yet; the message names it."""


def serve_asgi(
    app_factory: Callable[[], ASGIApp],
    *,
    listeners: list[socket.socket],
    limits: Limits,
    root_path: str = "",
    lifespan: str = "auto",
    access_log: bool = True,
    access_log_format: str = "common",
    ready: Callable[[], None] | None = None,
    forwarded_allow_ips: str | None = DEFAULT_FORWARDED_ALLOW_IPS,
    certfile: str | None = None,
    keyfile: str | None = None,
    **unsupported: Any,
) -> int:
    """Serve until SIGINT or SIGTERM; the exit status (0 when every request drained)."""
    for name, value in unsupported.items():
        if value and name == "redirect_http_port":
            raise NotYetSupported(f"--{name.replace('_', '-')} is not supported by asgi yet")
    ssl_context = make_server_context(certfile, keyfile) if certfile else None
    state = ServerState(
        tls=ssl_context is not None,
        app=app_factory(),
        limits=fit_connections_to_descriptors(limits),
        root_path=root_path.rstrip("/"),
        trusted_proxies=(
            None if forwarded_allow_ips is None else TrustedProxies.parse(forwarded_allow_ips)
        ),
        access_log=access_log,
        access_log_format=access_log_format,
    )
    return asyncio.run(_serve(state, listeners, lifespan, ready, ssl_context))


async def _serve(
    state: ServerState,
    listeners: list[socket.socket],
    lifespan_mode: str,
    ready: Callable[[], None] | None,
    ssl_context: ssl.SSLContext | None,
) -> int:
    loop = asyncio.get_running_loop()
    lifespan = Lifespan(state.app, lifespan_mode, state.lifespan_state)
    try:
        await lifespan.startup()
    except LifespanFailure as error:
        logger.error("application startup failed: %s", error)
        return LIFESPAN_FAILED_STATUS
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if received:
            logger.warning("second signal: exiting without waiting")
            os._exit(FORCED_EXIT_STATUS)
        received.append(signum)
        logger.info("%s received: draining", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    servers = [
        await loop.create_server(
            lambda: HttpConnection(state),
            sock=sock,
            backlog=state.limits.listen_backlog,
            ssl=ssl_context,
            # A TLS handshake is part of the request head's time (slowloris).
            ssl_handshake_timeout=state.limits.header_timeout_s if ssl_context else None,
        )
        for sock in listeners
    ]
    for sock in listeners:
        scheme = "https" if ssl_context else "http"
        logger.info("listening on %s (ASGI)", describe_listener(sock, scheme))
    if ready is not None:
        ready()
    await stop.wait()
    drained = await _drain(state, servers)
    try:
        await lifespan.shutdown()
    except LifespanFailure as error:
        logger.error("application shutdown failed: %s", error)
    return exit_status(drained)


async def _drain(state: ServerState, servers: list[asyncio.Server]) -> bool:
    """Stop accepting, let in-flight requests finish (WebSockets get a Close 1001)."""
    for server in servers:
        server.close()
    state.shutting_down = True
    state.drained = asyncio.Event()
    for connection in list(state.connections):
        connection.shutdown()
    if state.connections:
        try:
            await asyncio.wait_for(state.drained.wait(), state.limits.shutdown_timeout_s)
        except TimeoutError:
            pass
    drained = not state.connections
    if not drained:
        logger.warning("%d connection(s) cut at the shutdown timeout", len(state.connections))
        for connection in list(state.connections):
            connection.abort()
        await asyncio.sleep(0)
    return drained
