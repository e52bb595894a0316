"""An ASGI app for worker tests: lifespan marks each process, ``/pid`` names the one serving.

Markers go to the directory named by ``ASGI_MARKERS``: ``startup-<pid>`` and
``shutdown-<pid>`` from the lifespan (whose startup fails while ``fail-startup``
exists); ``/slow?token=T`` writes ``T-started`` and answers once ``T-go`` exists
(see raw.py); ``/late-reader?token=T`` reads its body only after ``T-go``, then
answers its size; the WebSocket ``/late-echo?token=T`` echoes only after ``T-go``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tests.asgi.apps import raw


async def _answer(send: Any, body: bytes) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].removeprefix("lifespan.")
            if kind == "startup" and (raw.MARKERS / "fail-startup").exists():
                await send({"type": "lifespan.startup.failed", "message": "no database now"})
                return
            (raw.MARKERS / f"{kind}-{os.getpid()}").touch()
            await send({"type": f"{message['type']}.complete"})
            if kind == "shutdown":
                return
    elif scope["type"] == "http" and scope["path"] == "/pid":
        await _answer(send, json.dumps({"pid": os.getpid()}).encode())
    elif scope["type"] == "http" and scope["path"] == "/late-reader":
        token = raw._token(scope)
        (raw.MARKERS / f"{token}-started").touch()
        await raw.wait_for_file(raw.MARKERS / f"{token}-go")
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await _answer(send, str(size).encode())
    elif scope["type"] == "websocket" and scope["path"] == "/late-echo":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await raw.wait_for_file(raw.MARKERS / f"{raw._token(scope)}-go")
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"]})
    else:
        await raw.app(scope, receive, send)
