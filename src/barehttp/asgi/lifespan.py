"""The ASGI ``lifespan`` protocol: startup before the first connection, shutdown after the last.

Mode ``auto`` (the default) treats an app that raises before answering
``lifespan.startup`` as one without lifespan support and serves it anyway;
``on`` makes that an error; ``off`` never calls the app with a lifespan scope.
``lifespan.startup.failed`` stops the server with the app's message in every mode.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from barehttp.asgi.loader import ASGIApp, Message
from barehttp.asgi.state import ASGI_VERSION

logger = logging.getLogger("barehttp.asgi")
LIFESPAN_MODES = ("auto", "on", "off")


class LifespanFailure(Exception):
    """Startup or shutdown failed; the message is the app's, for the user."""


class Lifespan:
    def __init__(self, app: ASGIApp, mode: str, state: dict[str, Any]) -> None:
        self._app = app
        self._mode = mode
        self._state = state
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._answer: asyncio.Future[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._supported = mode != "off"

    async def startup(self) -> None:
        """Raises ``LifespanFailure`` when the app says its startup failed."""
        if not self._supported:
            return
        self._task = asyncio.get_running_loop().create_task(self._run())
        await self._exchange("lifespan.startup")

    async def shutdown(self) -> None:
        if not self._supported or self._task is None or self._task.done():
            return
        await self._exchange("lifespan.shutdown")

    async def _exchange(self, kind: str) -> None:
        self._answer = asyncio.get_running_loop().create_future()
        await self._inbox.put({"type": kind})
        assert self._task is not None
        waiting: set[asyncio.Future[Any]] = {self._answer, self._task}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if self._answer not in done:  # the app returned or raised without answering
            self._answer.cancel()
            error = self._task.exception()
            if self._mode == "auto" and kind == "lifespan.startup":
                logger.info("the application does not support lifespan; serving without it")
                self._supported = False
                return
            ended = "returned" if error is None else f"raised {error!r}"
            raise LifespanFailure(f"{kind}: the application {ended} without answering")
        answer = self._answer.result()
        if answer["type"] == f"{kind}.failed":
            raise LifespanFailure(answer.get("message") or f"{kind} failed")

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self._state}
        try:
            await self._app(scope, self._inbox.get, self._send)
        except Exception as error:
            if self._mode == "auto" and not (self._answer and self._answer.done()):
                logger.debug("lifespan: %r", error)
            else:
                logger.exception("exception in ASGI lifespan")
            raise

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind not in (
            "lifespan.startup.complete",
            "lifespan.startup.failed",
            "lifespan.shutdown.complete",
            "lifespan.shutdown.failed",
        ):
            raise RuntimeError(f"unexpected lifespan message {kind!r}")
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(message)
