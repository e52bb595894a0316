"""serve_asgi: the ASGI host in this process, or in pre-forked workers under a supervisor."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

from barehttp.asgi.host import AsgiHost
from barehttp.asgi.loader import ASGIApp
from barehttp.asgi.state import ServerState
from barehttp.protocol.forwarded import DEFAULT_FORWARDED_ALLOW_IPS, TrustedProxies
from barehttp.protocol.limits import Limits
from barehttp.server.exit_codes import STARTUP_FAILED_STATUS
from barehttp.server.signals import install_shutdown_signals, reexec_if_requested
from barehttp.server.tls import make_server_context
from barehttp.server.workers import Supervisor, WorkerBody, WorkerOptions, WorkerStartError

logger = logging.getLogger("barehttp.asgi")


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
    forwarded_allow_ips: str | None = DEFAULT_FORWARDED_ALLOW_IPS,
    certfile: str | None = None,
    keyfile: str | None = None,
    workers: WorkerOptions | None = None,
    **unsupported: Any,
) -> int:
    """Serve until SIGINT or SIGTERM; the exit status (0 when every request drained).

    ``app_factory`` runs in the serving process: with ``workers``, in each worker
    after the fork, so that a SIGHUP's rolling reload serves fresh code.
    """
    for name, value in unsupported.items():
        if value and name == "redirect_http_port":
            raise NotYetSupported(f"--{name.replace('_', '-')} is not supported by asgi yet")
    ssl_context = make_server_context(certfile, keyfile) if certfile else None
    trusted_proxies = (
        None if forwarded_allow_ips is None else TrustedProxies.parse(forwarded_allow_ips)
    )

    def make_host(sockets: list[socket.socket], max_requests: int, *, announce: bool) -> AsgiHost:
        state = ServerState(
            tls=ssl_context is not None,
            app=app_factory(),
            limits=limits,
            root_path=root_path.rstrip("/"),
            trusted_proxies=trusted_proxies,
            access_log=access_log,
            access_log_format=access_log_format,
            max_requests=max_requests,
        )
        return AsgiHost(
            state, sockets, lifespan_mode=lifespan, ssl_context=ssl_context, announce=announce
        )

    if workers is None:
        return _serve_here(make_host(listeners, 0, announce=True))

    def make_worker(sockets: list[socket.socket], max_requests: int) -> WorkerBody:
        return make_host(sockets, max_requests, announce=False)

    supervisor = Supervisor(
        make_worker,
        host=None,
        port=0,
        limits=limits,
        options=workers,
        listeners=listeners,
        is_tls=ssl_context is not None,
    )
    return supervisor.run()


def _serve_here(host: AsgiHost) -> int:
    install_shutdown_signals(host)  # SIGHUP: drain, then re-execute on the same sockets
    try:
        host.start()
    except WorkerStartError as error:
        logger.error("%s", error)
        return STARTUP_FAILED_STATUS
    status = host.serve()
    reexec_if_requested()  # after a SIGHUP: does not return
    return status
