"""ASGI WebSocket echo (and the hello answer over HTTP, for readiness checks and probes).

Plain ASGI, nothing server-specific: every ASGI server in websocket_echo.py and
websocket_idle.py runs this same app (barehttp.web runs its twin, echo_native.py).
"""

from __future__ import annotations

from typing import Any

import hello_asgi
from hello_asgi import Receive, Send


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """HTTP: the hello body. WebSocket: accept, then send back every message as it came."""
    if scope["type"] == "http":
        await hello_asgi.app(scope, receive, send)
        return
    if scope["type"] != "websocket":
        return
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return  # websocket.disconnect
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})
