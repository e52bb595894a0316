"""A plain ASGI 3 app (no framework) whose routes probe the server's behaviour.

Markers are files in the directory named by ``ASGI_MARKERS``: the app writes
``<token>-started`` and ``<token>-disconnected``, and waits for ``<token>-go``.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

MARKERS = Path(os.environ.get("ASGI_MARKERS", "/tmp"))
WAIT_LIMIT_S = 30.0


async def wait_for_file(path: Path) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_LIMIT_S
    while not path.exists() and loop.time() < deadline:
        await asyncio.sleep(0.01)


def _token(scope: dict[str, Any]) -> str:
    return parse_qs(scope["query_string"].decode()).get("token", ["none"])[0]


async def _send_text(send: Any, text: str, status: int = 200) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = scope["path"]
    token = _token(scope)
    if path.endswith("/first-message"):  # answers from the first body piece alone
        message = await receive()
        await _send_text(send, f"{message['body'].decode()}|more={message['more_body']}")
    elif path.endswith("/wait-disconnect"):
        (MARKERS / f"{token}-started").touch()
        while (await receive())["type"] != "http.disconnect":
            pass
        (MARKERS / f"{token}-disconnected").touch()
    elif path.endswith("/two-receivers"):  # one task reads the body, another awaits disconnect
        (MARKERS / f"{token}-started").touch()

        async def await_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            (MARKERS / f"{token}-disconnected").touch()

        watcher = asyncio.create_task(await_disconnect())
        await asyncio.sleep(0)  # the watcher waits in receive() first
        while (await receive())["type"] != "http.disconnect":
            pass
        await watcher
    elif path.endswith("/stream"):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first,", "more_body": True})
        await wait_for_file(MARKERS / f"{token}-go")
        await send({"type": "http.response.body", "body": b"last"})
    elif path.endswith("/slow"):
        (MARKERS / f"{token}-started").touch()
        await wait_for_file(MARKERS / f"{token}-go")
        await _send_text(send, "slow done")
    elif path.endswith("/flood"):  # 128 MiB to a client that reads none of it
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(2_048):
            await send({"type": "http.response.body", "body": b"x" * 65_536, "more_body": True})
        (MARKERS / f"{token}-flooded").touch()
        await send({"type": "http.response.body", "body": b""})
    elif path.endswith("/wrong-length"):  # declares 5 bytes, sends what ?send= says
        body = parse_qs(scope["query_string"].decode())["send"][0].encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
        )
        await send({"type": "http.response.body", "body": body})
    elif path.endswith("/boom"):
        raise RuntimeError("the app broke")
    else:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        info = {
            "method": scope["method"],
            "path": path,
            "root_path": scope["root_path"],
            "query": scope["query_string"].decode(),
            "client_port": scope["client"][1],
            "client_host": scope["client"][0],
            "scheme": scope["scheme"],
            "body_bytes": len(body),
        }
        await _send_text(send, json.dumps(info))


async def websocket(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()  # websocket.connect
    path = scope["path"]
    if path == "/deny":
        await send({"type": "websocket.close"})
        return
    if path == "/deny-custom":  # the websocket.http.response extension
        assert "websocket.http.response" in scope["extensions"]
        headers = [(b"content-type", b"text/plain"), (b"x-why", b"token")]
        await send({"type": "websocket.http.response.start", "status": 401, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"token"})
        return
    if path == "/boom-after-accept":
        await send({"type": "websocket.accept"})
        raise RuntimeError("the websocket app broke")
    if path == "/no-answer":  # returns without accepting or denying
        return
    if path == "/close-with-reason":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4001, "reason": "done here"})
        return
    protocols = scope["subprotocols"]
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": protocols[0] if protocols else None,
            "headers": [(b"x-probe", b"yes")],
        }
    )
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            (MARKERS / f"ws-{message['code']}").touch()
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await http(scope, receive, send)
    elif scope["type"] == "websocket":
        await websocket(scope, receive, send)


def create_app() -> Any:
    return app
