"""serve_wsgi(): host a WSGI application, in one process or in pre-forked workers."""

from __future__ import annotations

import socket
from collections.abc import Callable
from wsgiref.types import WSGIApplication

from barehttp.protocol.forwarded import DEFAULT_FORWARDED_ALLOW_IPS
from barehttp.protocol.limits import NO_BODY_LIMIT, Limits
from barehttp.server.handler import Handler
from barehttp.server.serve import serve, serve_in_workers
from barehttp.server.workers import WorkerOptions
from barehttp.wsgi.adapter import WSGIHandler


def serve_wsgi(
    app: WSGIApplication | None = None,
    *,
    app_factory: Callable[[], WSGIApplication] | None = None,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    access_log: bool = True,
    root_path: str = "",
    workers: int = 1,
    max_requests: int = 0,
    max_requests_jitter: int = 0,
    certfile: str | None = None,
    keyfile: str | None = None,
    redirect_http_port: int | None = None,
    forwarded_allow_ips: str | None = DEFAULT_FORWARDED_ALLOW_IPS,
    listeners: list[socket.socket] | None = None,
    access_log_format: str = "common",
) -> int:
    """Serve ``app`` until SIGTERM/SIGINT; returns the exit status.

    With ``workers > 1`` the application runs in that many forked processes.
    Pass ``app_factory`` instead of ``app`` to load the application inside each
    worker (so SIGHUP reloads its code).
    """
    limits = limits or Limits()
    if (app is None) == (app_factory is None):
        raise TypeError("pass exactly one of app and app_factory")

    def make_handler() -> Handler:
        application = app_factory() if app_factory is not None else app
        assert application is not None
        return WSGIHandler(
            application,
            root_path=root_path,
            multiprocess=workers > 1,
            spool_chunked_bodies=limits.max_body_bytes < NO_BODY_LIMIT,
        )

    if workers <= 1 and not max_requests:
        return serve(
            make_handler(),
            host=host,
            port=port,
            limits=limits,
            access_log=access_log,
            certfile=certfile,
            keyfile=keyfile,
            redirect_http_port=redirect_http_port,
            forwarded_allow_ips=forwarded_allow_ips,
            listeners=listeners,
            access_log_format=access_log_format,
        )
    return serve_in_workers(
        make_handler,
        options=WorkerOptions(max(1, workers), max_requests, max_requests_jitter),
        host=host,
        port=port,
        limits=limits,
        access_log=access_log,
        certfile=certfile,
        keyfile=keyfile,
        forwarded_allow_ips=forwarded_allow_ips,
        listeners=listeners,
        access_log_format=access_log_format,
        redirect_http_port=redirect_http_port,
    )
