"""serve(): run a handler until SIGINT/SIGTERM, the few-lines entry point."""

from __future__ import annotations

import threading
from collections.abc import Callable

from barehttp.protocol.limits import Limits
from barehttp.server.handler import Handler
from barehttp.server.server import Server
from barehttp.server.signals import install_shutdown_signals
from barehttp.server.tls import RedirectToHTTPS, make_server_context


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
) -> None:
    """Serve ``handler`` on ``host:port`` until a signal asks to stop; then drain.

    With ``certfile`` (and ``keyfile`` unless the key is in the same file) the
    server speaks HTTPS; ``redirect_http_port`` then also answers plain HTTP on
    that port with a 308 to the HTTPS URL.
    """
    ssl_context = make_server_context(certfile, keyfile) if certfile else None
    server = Server(
        handler,
        host=host,
        port=port,
        limits=limits,
        access_log=access_log,
        ssl_context=ssl_context,
    )
    for hook in on_shutdown or []:
        server.add_shutdown_hook(hook)
    if threading.current_thread() is threading.main_thread():
        # Before the port opens: a SIGTERM from then on drains (serve_forever sees the
        # request at once) instead of killing a process that may already be serving.
        install_shutdown_signals(server)
    if ssl_context is not None and redirect_http_port is not None:
        redirect = Server(
            RedirectToHTTPS(port), host=host, port=redirect_http_port, access_log=access_log
        )
        redirect.start()

        def stop_redirect() -> None:
            redirect.shutdown(timeout=1.0)

        server.add_shutdown_hook(stop_redirect)
    server.start()
    server.serve_forever()
