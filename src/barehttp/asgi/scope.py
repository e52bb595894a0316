"""ASGI connection scopes (``http``, ``websocket``) built from a parsed request head."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from barehttp.asgi.state import ASGI_VERSION, ServerState
from barehttp.protocol.events import RequestHead


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
    return {
        "type": kind,
        "asgi": ASGI_VERSION,
        "http_version": head.http_version[5:],
        "scheme": "ws" if kind == "websocket" else "http",
        "path": state.root_path + path,
        "raw_path": raw_path,
        "query_string": head.query.encode("latin-1"),
        "root_path": state.root_path,
        "headers": _headers(head),
        "server": server,
        "client": client,
        "state": dict(state.lifespan_state),
    }


def http_scope(
    head: RequestHead,
    state: ServerState,
    server: tuple[str, int] | None,
    client: tuple[str, int] | None,
) -> dict[str, Any]:
    scope = base_scope("http", head, state, server, client)
    scope["method"] = head.method
    return scope
