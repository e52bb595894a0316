"""TLS with the standard ssl module: the server context and the HTTP→HTTPS redirect."""

from __future__ import annotations

import ssl

from barehttp.server.handler import Exchange


def make_server_context(certfile: str, keyfile: str | None = None) -> ssl.SSLContext:
    """A server context: stdlib defaults for clients, TLS 1.2 or newer, ALPN http/1.1.

    ``create_default_context(Purpose.CLIENT_AUTH)`` gives the interpreter's
    vetted cipher list and disables compression; renegotiation is refused here.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # No TLS 1.2 renegotiation: a client could make the server pay for new handshakes at
    # will, and a write needing a read first would leave the reactor's outbox waiting on
    # the wrong readiness (RFC 5746 makes it safe, not cheap).
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["http/1.1"])  # we speak only HTTP/1.1 (RFC 7301)
    return context


class RedirectToHTTPS:
    """A handler for a plain-HTTP port: 308 to the same URL on the HTTPS port.

    308 (RFC 9110 §15.4.9) keeps the method and body, unlike 301/302.
    """

    def __init__(self, https_port: int) -> None:
        self._port_suffix = "" if https_port == 443 else f":{https_port}"

    def __call__(self, exchange: Exchange) -> None:
        head = exchange.head
        host = head.headers.get("host") or exchange.server_address[0]
        # Keep the host name, drop any port: the client reached us on the plain one.
        if host.startswith("["):
            host = host[: host.find("]") + 1]
        else:
            host = host.rsplit(":", 1)[0]
        target = head.path + (f"?{head.query}" if head.query else "")
        location = f"https://{host}{self._port_suffix}{target}"
        body = f"Moved to {location}\n".encode("utf-8", "replace")
        exchange.send_response(
            308,
            [("Location", location), ("Content-Type", "text/plain; charset=utf-8")],
            body,
        )
