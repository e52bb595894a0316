"""Back-pressure for one connection: the transport's write buffer and our read side."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class FlowControl:
    """Writers wait while the kernel and transport buffers are full; reads pause
    while the application has not taken what was already received."""

    __slots__ = (
        "_read_paused",
        "_transport",
        "_waiters",
        "_write_paused",
        "_write_timeout_s",
        "on_reading_resumed",
    )

    def __init__(self, transport: asyncio.Transport, write_timeout_s: float) -> None:
        self._transport = transport
        self._write_timeout_s = write_timeout_s
        self._read_paused = False
        self._write_paused = False
        self._waiters: list[asyncio.Future[None]] = []
        # Called when reading resumes after a pause (a request body's pace restarts).
        self.on_reading_resumed: Callable[[], None] | None = None

    @property
    def is_read_paused(self) -> bool:
        """True while the application has not taken what was received."""
        return self._read_paused

    def pause_reading(self) -> None:
        if not self._read_paused:
            self._read_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._read_paused:
            self._read_paused = False
            if not self._transport.is_closing():
                self._transport.resume_reading()
            if self.on_reading_resumed is not None:
                self.on_reading_resumed()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        """Wake every writer; also called when the connection is lost."""
        self._write_paused = False
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def drain(self) -> None:
        """Return once the transport accepts more bytes, or the connection is gone.

        A client that reads nothing for ``write_timeout_s`` is dropped (Limits).
        """
        if self._write_paused and not self._transport.is_closing():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, self._write_timeout_s)
            except TimeoutError:
                self._transport.abort()
