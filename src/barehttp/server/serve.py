"""serve() and serve_in_workers(): run a handler until SIGINT/SIGTERM, then drain."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

from barehttp.protocol.forwarded import DEFAULT_FORWARDED_ALLOW_IPS, TrustedProxies
from barehttp.protocol.limits import Limits
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.server.exit_codes import exit_status
from barehttp.server.handler import Handler
from barehttp.server.listener import bind_listeners, socket_address
from barehttp.server.redirect import bind_redirect, start_redirect
from barehttp.server.server import Server
from barehttp.server.signals import install_shutdown_signals, reexec_if_requested
from barehttp.server.tls import RedirectToHTTPS, make_server_context
from barehttp.server.workers import Supervisor, ThreadedWorker, WorkerBody, WorkerOptions

logger = logging.getLogger("barehttp.server")


def serve(
    handler: Handler,
    *,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    access_log: bool = True,
    on_shutdown: list[Callable[[], None]] | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    redirect_http_port: int | None = None,
    forwarded_allow_ips: str | None = DEFAULT_FORWARDED_ALLOW_IPS,
    listeners: list[socket.socket] | None = None,
    access_log_format: str = "common",
    websocket_limits: WebSocketLimits | None = None,
) -> int:
    """Serve ``handler`` on ``host:port`` until a signal asks to stop; then drain.

    Returns the exit status: 0 when every request completed, else
    ``DRAIN_CUT_STATUS`` (``shutdown_timeout_s`` cut requests off).

    With ``certfile`` (and ``keyfile`` unless the key is in the same file) the
    server speaks HTTPS; ``redirect_http_port`` then also answers plain HTTP on
    that port with a 308 to the HTTPS URL. Proxy headers are believed from
    ``forwarded_allow_ips`` (addresses and CIDR ranges, ``"*"``; None: nobody).
    ``listeners``, if given, are listening sockets to serve instead of binding.
    """
    ssl_context = make_server_context(certfile, keyfile) if certfile else None
    redirects = ssl_context is not None and redirect_http_port is not None
    if redirects and listeners is None:
        # Bound here: the redirect names the port bound (--port 0), as with workers.
        listeners = bind_listeners(host, port, limits or Limits())
    server = Server(
        handler,
        host=host,
        port=port,
        limits=limits,
        access_log=access_log,
        ssl_context=ssl_context,
        trusted_proxies=_trusted(forwarded_allow_ips),
        listeners=listeners,
        access_log_format=access_log_format,
        websocket_limits=websocket_limits,
    )
    for hook in on_shutdown or []:
        server.add_shutdown_hook(hook)
    if threading.current_thread() is threading.main_thread():
        # Before the port opens: a SIGTERM from then on drains (serve_forever sees the
        # request at once) instead of killing a process that may already be serving.
        install_shutdown_signals(server)
    if redirects and redirect_http_port is not None:
        server.plain_http_port = redirect_http_port
        https_port = socket_address(listeners[0].getsockname())[1] if listeners else port
        redirect = Server(
            RedirectToHTTPS(https_port), host=host, port=redirect_http_port, access_log=access_log
        )
        redirect.start()

        def stop_redirect() -> None:
            redirect.shutdown(timeout=1.0)

        server.add_shutdown_hook(stop_redirect)
    server.start()
    status = exit_status(server.serve_forever())
    reexec_if_requested()  # after a SIGHUP: does not return
    return status


def serve_in_workers(
    make_handler: Callable[[], Handler],
    *,
    options: WorkerOptions,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    access_log: bool = True,
    certfile: str | None = None,
    keyfile: str | None = None,
    worker_shutdown_hooks: Callable[[], list[Callable[[], None]]] | None = None,
    forwarded_allow_ips: str | None = DEFAULT_FORWARDED_ALLOW_IPS,
    listeners: list[socket.socket] | None = None,
    access_log_format: str = "common",
    redirect_http_port: int | None = None,
    websocket_limits: WebSocketLimits | None = None,
) -> int:
    """Run ``make_handler()`` in pre-forked worker processes; returns the exit status.

    ``make_handler`` runs inside each worker, after the fork, so per-process
    resources (database connections, the application's modules) are the
    worker's own. ``worker_shutdown_hooks()``, also called in the worker after
    ``make_handler``, gives the hooks that run when that worker has drained.
    With TLS, ``redirect_http_port`` is bound here and every worker also answers
    it with 308s to HTTPS (no thread runs in the supervisor, which forks).
    """
    limits = limits or Limits()
    ssl_context = make_server_context(certfile, keyfile) if certfile else None
    trusted_proxies = _trusted(forwarded_allow_ips)
    redirect_listeners: list[socket.socket] = []
    if ssl_context is not None and redirect_http_port is not None:
        redirect_listeners = bind_redirect(host, redirect_http_port, limits)

    def start_redirect_in_worker(server: Server, listeners: list[socket.socket]) -> None:
        https_port = socket_address(listeners[0].getsockname())[1] if listeners else port
        redirect = start_redirect(
            redirect_listeners, https_port, limits=limits, access_log=access_log
        )

        def stop_redirect() -> None:
            redirect.shutdown(timeout=1.0)

        server.add_shutdown_hook(stop_redirect)

    def make_worker(listeners: list[socket.socket], max_requests: int) -> WorkerBody:
        server = Server(
            make_handler(),
            limits=limits,
            listeners=listeners,
            access_log=access_log,
            ssl_context=ssl_context,
            trusted_proxies=trusted_proxies,
            access_log_format=access_log_format,
            websocket_limits=websocket_limits,
        )
        server.max_requests = max_requests
        if redirect_listeners:
            server.plain_http_port = redirect_http_port
        for hook in worker_shutdown_hooks() if worker_shutdown_hooks else []:
            server.add_shutdown_hook(hook)
        if redirect_listeners:
            start_redirect_in_worker(server, listeners)
        return ThreadedWorker(server)

    return supervise(
        make_worker,
        options=options,
        host=host,
        port=port,
        limits=limits,
        listeners=listeners,
        is_tls=ssl_context is not None,
        redirect_listeners=redirect_listeners,
    )


def supervise(
    make_worker: Callable[[list[socket.socket], int], WorkerBody],
    *,
    options: WorkerOptions,
    host: str | None,
    port: int,
    limits: Limits,
    listeners: list[socket.socket] | None,
    is_tls: bool,
    redirect_listeners: list[socket.socket],
) -> int:
    """Run ``make_worker``'s bodies in pre-forked processes until a signal stops them;
    the exit status. The redirect port's sockets, bound before the fork, close after."""
    supervisor = Supervisor(
        make_worker,
        host=host,
        port=port,
        limits=limits,
        options=options,
        listeners=listeners,
        is_tls=is_tls,
    )
    try:
        return supervisor.run()
    finally:
        for sock in redirect_listeners:
            sock.close()


def _trusted(forwarded_allow_ips: str | None) -> TrustedProxies | None:
    return None if forwarded_allow_ips is None else TrustedProxies.parse(forwarded_allow_ips)
