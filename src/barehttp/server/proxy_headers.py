"""ProxyHeaders: a handler wrapper applying what trusted proxies report (see protocol/forwarded.py).

From a trusted peer, the forwarded client address replaces the exchange's
``client_address`` (port 0: the client's port is not reported), the forwarded
scheme its ``scheme``, and a forwarded host the request's ``Host`` field. So
WSGI's ``REMOTE_ADDR``/``wsgi.url_scheme``/``HTTP_HOST``, the web layer's
``Request.client``/``Request.scheme`` and the access log all see the client.
"""

from __future__ import annotations

from barehttp.protocol.forwarded import TrustedProxies, resolve_forwarded
from barehttp.protocol.headers import Headers
from barehttp.server.handler import Exchange, Handler
from barehttp.server.listener import UNIX_PEER

_PROXY_FIELDS = frozenset({"forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})


class ProxyHeaders:
    """Calls ``handler`` with the client, scheme and host that trusted proxies report."""

    def __init__(self, handler: Handler, trusted: TrustedProxies) -> None:
        self._handler = handler
        self._trusted = trusted

    def __call__(self, exchange: Exchange) -> None:
        headers = exchange.head.headers
        # Most requests carry none of these: one pass over the names, nothing parsed
        # nor copied (a plain loop: no generator to build on every request).
        for name, _ in headers:
            if name in _PROXY_FIELDS:
                self._apply(exchange, headers.items())
                break
        self._handler(exchange)

    def _apply(self, exchange: Exchange, fields: list[tuple[str, str]]) -> None:
        peer = exchange.client_address[0]
        # A Unix socket's peer is a local process the file's mode let in (gunicorn
        # trusts it too); its "address" is not one an allow list could name.
        is_peer_trusted = True if peer == UNIX_PEER else None
        forwarded = resolve_forwarded(peer, fields, self._trusted, is_peer_trusted=is_peer_trusted)
        if forwarded.client is not None:
            exchange.client_address = (forwarded.client, 0)
        if forwarded.scheme is not None:
            exchange.scheme = forwarded.scheme
        if forwarded.host is not None:
            host = forwarded.host
            kept = [(name, value) for name, value in fields if name != "host"]
            exchange.head.headers = Headers([("host", host), *kept])
