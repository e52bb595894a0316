"""An ordinary Starlette app (nothing barehttp-specific): JSON, streaming, upload, WebSocket."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

MARKERS = Path(os.environ.get("ASGI_MARKERS", "/tmp"))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, str]]:
    (MARKERS / "star-startup").touch()
    yield {"greeting": "set at startup"}
    (MARKERS / "star-shutdown").touch()


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world", "greeting": request.state.greeting})


async def numbers(request: Request) -> StreamingResponse:
    async def generate() -> AsyncIterator[str]:
        for number in range(5):
            yield f"{number}\n"

    return StreamingResponse(generate(), media_type="text/plain")


async def upload(request: Request) -> PlainTextResponse:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return PlainTextResponse(f"{size} {digest.hexdigest()}")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


app = Starlette(
    routes=[
        Route("/", hello),
        Route("/numbers", numbers),
        Route("/upload", upload, methods=["POST"]),
        WebSocketRoute("/ws", echo),
    ],
    lifespan=lifespan,
)
