"""serve_asgi: the ASGI host in this process, or in pre-forked workers under a supervisor."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Protocol

from barehttp.asgi.descriptors import fit_connections_to_descriptors
from barehttp.asgi.host import AsgiHost
from barehttp.asgi.loader import AppLoadError, ASGIApp
from barehttp.asgi.state import ServerState
from barehttp.protocol.forwarded import DEFAULT_FORWARDED_ALLOW_IPS, TrustedProxies
from barehttp.protocol.limits import Limits
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.server.exit_codes import STARTUP_FAILED_STATUS
from barehttp.server.listener import socket_address
from barehttp.server.redirect import bind_redirect, start_redirect
from barehttp.server.serve import supervise
from barehttp.server.server import Server
from barehttp.server.signals import Restartable, install_shutdown_signals, reexec_if_requested
from barehttp.server.tls import make_server_context
from barehttp.server.workers import WorkerBody, WorkerOptions, WorkerStartError

logger = logging.getLogger("barehttp.asgi")


def serve_asgi(
    app_factory: Callable[[], ASGIApp],
    *,
    listeners: list[socket.socket],
    limits: Limits,
    root_path: str = "",
    lifespan: str = "auto",
    access_log: bool = True,
    access_log_format: str = "common",
    forwarded_allow_ips: str | None = DEFAULT_FORWARDED_ALLOW_IPS,
    certfile: str | None = None,
    keyfile: str | None = None,
    workers: WorkerOptions | None = None,
    websocket_limits: WebSocketLimits | None = None,
    host: str | None = "127.0.0.1",
    redirect_http_port: int | None = None,
    port: int = 0,
) -> int:
    """Serve until SIGINT or SIGTERM; the exit status (0 when every request drained).

    ``app_factory`` runs in the serving process: with ``workers``, in each worker
    after the fork, so that a SIGHUP's rolling reload serves fresh code. With TLS,
    ``redirect_http_port`` (bound on ``host``) answers plain HTTP with 308s to HTTPS,
    from every serving process; plain HTTP sent to the TLS port gets a readable 400.
    """
    ssl_context = make_server_context(certfile, keyfile) if certfile else None
    trusted_proxies = (
        None if forwarded_allow_ips is None else TrustedProxies.parse(forwarded_allow_ips)
    )

    redirect_listeners: list[socket.socket] = []
    if ssl_context is not None and redirect_http_port is not None:
        redirect_listeners = bind_redirect(host, redirect_http_port, limits)

    def make_host(sockets: list[socket.socket], max_requests: int, *, announce: bool) -> Served:
        try:
            app = app_factory()
        except AppLoadError as error:  # a worker loading changed code (SIGHUP): one line
            raise WorkerStartError(str(error)) from None
        state = ServerState(
            tls=ssl_context is not None,
            app=app,
            limits=fit_connections_to_descriptors(limits),
            websocket_limits=websocket_limits or WebSocketLimits(),
            root_path=root_path.rstrip("/"),
            trusted_proxies=trusted_proxies,
            access_log=access_log,
            access_log_format=access_log_format,
            max_requests=max_requests,
        )
        served = AsgiHost(
            state,
            sockets,
            lifespan_mode=lifespan,
            ssl_context=ssl_context,
            announce=announce,
            plain_http_port=redirect_http_port if redirect_listeners else None,
        )
        if not redirect_listeners:
            return served
        https_port = port
        if sockets and sockets[0].family != socket.AF_UNIX:
            https_port = socket_address(sockets[0].getsockname())[1]
        return WithRedirect(served, redirect_listeners, https_port, limits, access_log)

    if workers is None:
        return _serve_here(make_host(listeners, 0, announce=True))

    def make_worker(sockets: list[socket.socket], max_requests: int) -> WorkerBody:
        return make_host(sockets, max_requests, announce=False)

    return supervise(
        make_worker,
        options=workers,
        host=host,
        port=port,
        limits=limits,
        listeners=listeners,
        is_tls=ssl_context is not None,
        redirect_listeners=redirect_listeners,
    )


class Served(WorkerBody, Restartable, Protocol):
    """The ASGI host, with or without its redirecting port."""


class WithRedirect:
    """The ASGI host plus the threaded 308 server of ``--redirect-http-port``, started and
    stopped with it."""

    def __init__(
        self,
        host: AsgiHost,
        listeners: list[socket.socket],
        https_port: int,
        limits: Limits,
        access_log: bool,
    ) -> None:
        self._host = host
        self._listeners = listeners
        self._https_port = https_port
        self._limits = limits
        self._access_log = access_log
        self._redirect: Server | None = None

    @property
    def listening_sockets(self) -> list[socket.socket]:
        return self._host.listening_sockets

    def start(self) -> None:
        self._host.start()
        self._redirect = start_redirect(
            self._listeners, self._https_port, limits=self._limits, access_log=self._access_log
        )

    def serve(self) -> int:
        try:
            return self._host.serve()
        finally:
            if self._redirect is not None:
                self._redirect.shutdown(timeout=1.0)

    def request_shutdown(self) -> None:
        self._host.request_shutdown()


def _serve_here(host: Served) -> int:
    install_shutdown_signals(host)  # SIGHUP: drain, then re-execute on the same sockets
    try:
        host.start()
    except WorkerStartError as error:
        logger.error("%s", error)
        return STARTUP_FAILED_STATUS
    status = host.serve()
    reexec_if_requested()  # after a SIGHUP: does not return
    return status
