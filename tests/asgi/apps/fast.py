"""An ordinary FastAPI app (nothing barehttp-specific): JSON, streaming, upload, WebSocket."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, StreamingResponse

MARKERS = Path(os.environ.get("ASGI_MARKERS", "/tmp"))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    (MARKERS / "fast-startup").touch()
    yield
    (MARKERS / "fast-shutdown").touch()


app = FastAPI(lifespan=lifespan)


@app.get("/items/{item_id}")
def read_item(item_id: int, q: str | None = None) -> dict[str, object]:
    time.sleep(0.01)  # a blocking call: FastAPI runs sync endpoints in its thread pool
    return {"item_id": item_id, "q": q}


@app.get("/block", response_class=PlainTextResponse)
def block(token: str) -> str:
    """A blocking endpoint: FastAPI runs it in a thread while the loop serves others."""
    (MARKERS / f"{token}-started").touch()
    deadline = time.monotonic() + 30
    while not (MARKERS / f"{token}-go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return "unblocked"


@app.get("/numbers")
def numbers() -> StreamingResponse:
    def generate() -> Iterator[str]:
        for number in range(5):
            yield f"{number}\n"

    return StreamingResponse(generate(), media_type="text/plain")


@app.post("/upload", response_class=PlainTextResponse)
async def upload(request: Request) -> str:
    body = await request.body()
    return f"{len(body)} {hashlib.sha256(body).hexdigest()}"


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_bytes(await websocket.receive_bytes())
    except WebSocketDisconnect:
        pass
