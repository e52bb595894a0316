"""The plain-HTTP port of a TLS server: a small threaded ``Server`` answering 308 to HTTPS.

Its sockets are bound first (by the supervisor when there are workers, which
all answer on them), then each serving process starts its own redirect server.
"""

from __future__ import annotations

import logging
import socket

from barehttp.protocol.limits import Limits
from barehttp.server.listener import bind_listeners, describe_listener
from barehttp.server.server import Server
from barehttp.server.tls import RedirectToHTTPS

logger = logging.getLogger("barehttp.server")


def bind_redirect(host: str | None, port: int, limits: Limits) -> list[socket.socket]:
    """Bind the plain-HTTP port (``--redirect-http-port``) and say so."""
    listeners = bind_listeners(host, port, limits)
    for sock in listeners:
        logger.info("redirecting %s to https", describe_listener(sock))
    return listeners


def start_redirect(
    listeners: list[socket.socket], https_port: int, *, limits: Limits, access_log: bool
) -> Server:
    """Answer on ``listeners`` with 308s to ``https_port``; stop it with ``shutdown()``."""
    redirect = Server(
        RedirectToHTTPS(https_port), limits=limits, listeners=listeners, access_log=access_log
    )
    redirect.announce = False
    redirect.start()
    return redirect
