"""serve(): run a handler until SIGINT/SIGTERM, the few-lines entry point."""

from __future__ import annotations

import threading
from collections.abc import Callable

from barehttp.protocol.limits import Limits
from barehttp.server.handler import Handler
from barehttp.server.server import Server
from barehttp.server.signals import install_shutdown_signals


def serve(
    handler: Handler,
    *,
    host: str | None = "127.0.0.1",
    port: int = 8000,
    limits: Limits | None = None,
    access_log: bool = True,
    on_shutdown: list[Callable[[], None]] | None = None,
) -> None:
    """Serve ``handler`` on ``host:port`` until a signal asks to stop; then drain."""
    server = Server(handler, host=host, port=port, limits=limits, access_log=access_log)
    for hook in on_shutdown or []:
        server.add_shutdown_hook(hook)
    server.start()
    if threading.current_thread() is threading.main_thread():
        install_shutdown_signals(server)
    server.serve_forever()
