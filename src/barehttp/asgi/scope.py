"""ASGI connection scopes (``http``, ``websocket``) built from a parsed request head."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from barehttp.asgi.state import ASGI_VERSION, ServerState
from barehttp.protocol.events import RequestHead
from barehttp.protocol.forwarded import resolve_forwarded
from barehttp.server.listener import UNIX_PEER

_PROXY_FIELDS = frozenset({"forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})
_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}
_SCHEMES = {
    ("http", False): "http",
    ("http", True): "https",
    ("websocket", False): "ws",
    ("websocket", True): "wss",
}


def _headers(head: RequestHead) -> list[tuple[bytes, bytes]]:
    # ASGI: names lower-cased (the parser stores them so), both as bytes.
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in head.headers]


def base_scope(
    kind: str,
    head: RequestHead,
    state: ServerState,
    server: tuple[str, int] | None,
    client: tuple[str, int] | None,
) -> dict[str, Any]:
    """The fields ``http`` and ``websocket`` scopes share.

    ``path`` is percent-decoded and, as uvicorn and Starlette expect, begins with
    ``root_path``; ``raw_path`` is the path as sent.
    """
    raw_path = head.path.encode("latin-1")
    path = unquote(head.path, encoding="utf-8", errors="surrogateescape")
    scope = {
        "type": kind,
        "asgi": ASGI_VERSION,
        "http_version": head.http_version[5:],
        "scheme": _SCHEMES[kind, state.tls],
        "path": state.root_path + path,
        "raw_path": raw_path,
        "query_string": head.query.encode("latin-1"),
        "root_path": state.root_path,
        "headers": _headers(head),
        "server": server,
        "client": client,
        "state": dict(state.lifespan_state),
    }
    if state.trusted_proxies is not None:
        _apply_proxy_headers(scope, head, state, client)
    return scope


def _apply_proxy_headers(
    scope: dict[str, Any], head: RequestHead, state: ServerState, client: tuple[str, int] | None
) -> None:
    """From a trusted proxy: the client, scheme and host it reports (RFC 7239, X-Forwarded-*)."""
    fields = head.headers.items()
    # Most requests carry none of these: one pass over the names, nothing parsed.
    if not any(name in _PROXY_FIELDS for name, _ in fields):
        return
    assert state.trusted_proxies is not None
    peer = client[0] if client is not None else UNIX_PEER
    # A Unix socket's peer is a local process the file's mode let in.
    forwarded = resolve_forwarded(
        peer, fields, state.trusted_proxies, is_peer_trusted=True if client is None else None
    )
    if forwarded.client is not None:
        scope["client"] = (forwarded.client, 0)
    if forwarded.scheme is not None:
        scheme = forwarded.scheme
        scope["scheme"] = (
            _WEBSOCKET_SCHEMES.get(scheme, scheme) if scope["type"] == "websocket" else scheme
        )
    if forwarded.host is not None:
        kept = [(name, value) for name, value in scope["headers"] if name != b"host"]
        scope["headers"] = [(b"host", forwarded.host.encode("latin-1")), *kept]


def http_scope(
    head: RequestHead,
    state: ServerState,
    server: tuple[str, int] | None,
    client: tuple[str, int] | None,
) -> dict[str, Any]:
    scope = base_scope("http", head, state, server, client)
    scope["method"] = head.method
    return scope
