"""FastAPI hello-world: the same bytes as every other hello app, through FastAPI's routing."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from hello import BODY

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
async def hello() -> PlainTextResponse:
    return PlainTextResponse(BODY)
