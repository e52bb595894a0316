"""Plain HTTP sent to a TLS port: a readable 400 instead of a failed handshake.

A client that speaks plain HTTP to an HTTPS port (``curl http://host:8443/``)
would otherwise see its connection reset, with no hint why. Before the
handshake reads anything, the first byte is peeked: every TLS connection starts
with a handshake record (RFC 8446 §5.1: ContentType 22, or 0x80 for an old
SSLv2-style hello), while an HTTP/1.x request line starts with its method, a
token of ASCII letters (RFC 9112 §3). Such a client gets a short plain-text 400
saying that this port speaks HTTPS, and where plain HTTP is answered when there
is a redirecting port; nginx does the same ("The plain HTTP request was sent to
HTTPS port").
"""

from __future__ import annotations

import select
import socket
import time

from barehttp.protocol.limits import Limits
from barehttp.server.context import ServerContext

_METHOD_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def answer_if_plain_http(
    sock: socket.socket, server_address: tuple[str, int], context: ServerContext
) -> bool | None:
    """Answer a plain-HTTP client with the 400 (True); False for TLS; None if nothing came yet.

    Waits at most ``linger_s`` for the first byte. After True, close the connection.
    """
    byte = first_byte(sock, context.limits.linger_s)
    if byte is None:
        return None
    if not is_plain_http(byte):
        return False
    answer_plain_http(sock, server_address, context.plain_http_port, context.limits)
    return True


def first_byte(sock: socket.socket, wait_s: float) -> int | None:
    """The first byte the client sent, left in the socket; None if none came in ``wait_s``.

    Returns -1 when the client closed without sending anything.
    """
    poller = select.poll()  # poll, not select: descriptors past 1024 are normal here
    poller.register(sock.fileno(), select.POLLIN)
    if not poller.poll(max(0, int(wait_s * 1000))):
        return None
    try:
        # socket.socket.recv, not the SSLSocket's: peek at the raw TCP bytes.
        data = socket.socket.recv(sock, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError:
        return -1
    return data[0] if data else -1


def is_plain_http(byte: int) -> bool:
    """Whether a connection's first byte starts an HTTP request line, not a TLS hello."""
    return byte in _METHOD_START


def plain_http_answer(server_address: tuple[str, int], plain_http_port: int | None) -> bytes:
    """The whole 400 response: where HTTPS is, and where plain HTTP is answered if anywhere."""
    host, port = server_address
    shown = f"[{host}]" if ":" in host else host
    body = f"This port speaks HTTPS, not plain HTTP: use https://{shown}:{port}/\n"
    if plain_http_port is not None:
        body += f"Plain HTTP is answered on port {plain_http_port}, with a redirect here.\n"
    encoded = body.encode("ascii", "replace")
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(encoded)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")
    return head + encoded


def answer_plain_http(
    sock: socket.socket,
    server_address: tuple[str, int],
    plain_http_port: int | None,
    limits: Limits,
) -> None:
    """Send the 400 on the raw socket, drop the request for at most ``lingering_close_s``
    (and ``max_plain_http_discard_bytes``), so that the kernel sends FIN, not RST (which
    could make the client drop our answer unread); no close."""
    deadline = time.monotonic() + limits.lingering_close_s
    try:
        socket.socket.settimeout(sock, limits.lingering_close_s)
        socket.socket.sendall(sock, plain_http_answer(server_address, plain_http_port))
        socket.socket.shutdown(sock, socket.SHUT_WR)
        dropped = 0
        while dropped < limits.max_plain_http_discard_bytes and time.monotonic() < deadline:
            data = socket.socket.recv(sock, limits.recv_bytes)
            if not data:
                break
            dropped += len(data)
    except OSError:
        pass  # the client left; nothing more to tell it
