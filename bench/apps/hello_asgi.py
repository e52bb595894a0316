"""ASGI hello-world for uvicorn (``uvicorn --lifespan off hello_asgi:app``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from hello import BODY, CONTENT_TYPE

_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [
        (b"content-type", CONTENT_TYPE.encode("ascii")),
        (b"content-length", str(len(BODY)).encode("ascii")),
    ],
}
_BODY = {"type": "http.response.body", "body": BODY}

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """Answer every HTTP request with the hello body; other scope types are ignored."""
    if scope["type"] != "http":
        return
    await send(_START)
    await send(_BODY)
