"""One HTTP request/response exchange as ASGI ``receive`` and ``send`` (ASGI 3 ``http``).

The request body reaches the app as it arrives, in ``http.request`` messages
with ``more_body``; once the client is gone, or the response is complete,
``receive`` gives ``http.disconnect``. The response head is written with the
first body message: a response sent in one message gets a Content-Length, one
streamed without it is chunked (RFC 9112 §7.1), or, for an HTTP/1.0 client,
delimited by closing the connection (§6.3 item 8).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from barehttp.asgi.flow import FlowControl
from barehttp.asgi.loader import Message
from barehttp.asgi.state import ServerState
from barehttp.protocol.events import RequestHead
from barehttp.protocol.writer import (
    LAST_CHUNK,
    encode_chunk,
    format_continue,
    format_head,
    reason_phrase,
)

_DISCONNECT: Message = {"type": "http.disconnect"}


class ResponseError(RuntimeError):
    """The app sent a message that breaks ASGI's order, or an invalid response."""


class HttpCycle:
    """Receive and send for one request; the connection feeds it body bytes."""

    __slots__ = (
        "_body",
        "_body_delivered",
        "_chunked",
        "_continue_due",
        "_flow",
        "_head_written",
        "_headers",
        "_length_left",
        "_on_done",
        "_state",
        "_transport",
        "_waiters",
        "body_complete",
        "bytes_sent",
        "client",
        "disconnected",
        "head",
        "keep_alive",
        "response_complete",
        "response_started",
        "started_at",
        "status",
    )

    def __init__(
        self,
        head: RequestHead,
        state: ServerState,
        transport: asyncio.Transport,
        flow: FlowControl,
        on_done: Callable[[HttpCycle], None],
    ) -> None:
        self.head = head
        self._state = state
        self._transport = transport
        self._flow = flow
        self._on_done = on_done
        self._body = bytearray()
        self._body_delivered = False
        # Tasks waiting in receive(): usually one, but an app may also listen for the
        # disconnect in a second task while the first reads the body.
        self._waiters: list[asyncio.Future[None]] = []
        self._continue_due = head.expects_continue
        self._headers: list[tuple[str, str]] = []
        self._chunked = False
        self._head_written = False
        self._length_left: int | None = None  # of a declared Content-Length
        self.body_complete = False
        self.client: tuple[str, int] | None = None  # as the app sees it (proxy headers applied)
        self.disconnected = False
        self.keep_alive = head.keep_alive and not state.shutting_down
        self.response_started = False
        self.response_complete = False
        self.status = 0
        self.bytes_sent = 0
        self.started_at = time.monotonic()

    # -- from the connection ---------------------------------------------------

    def feed_body(self, data: bytes) -> None:
        self._body += data
        if len(self._body) >= self._state.limits.recv_bytes:
            self._flow.pause_reading()  # the app reads at its own pace
        self._wake()

    def end_body(self) -> None:
        self.body_complete = True
        self._wake()

    def disconnect(self) -> None:
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    # -- the app's receive -----------------------------------------------------

    async def receive(self) -> Message:
        while not (
            self.disconnected
            or self.response_complete
            or (not self._body_delivered and (self._body or self.body_complete))
        ):
            if self._continue_due:  # RFC 9110 §10.1.1: the app wants the body
                self._continue_due = False
                self._transport.write(format_continue(self.head.http_version))
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        if self.disconnected or self.response_complete:
            return _DISCONNECT
        data = bytes(self._body)
        self._body.clear()
        self._flow.resume_reading()
        self._body_delivered = self.body_complete
        return {"type": "http.request", "body": data, "more_body": not self.body_complete}

    # -- the app's send --------------------------------------------------------

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise ResponseError(f"expected 'http.response.start', got {kind!r}")
            self._start(message)
            return
        if self.response_complete:
            raise ResponseError(f"{kind!r} after the response was complete")
        if kind != "http.response.body":
            raise ResponseError(f"expected 'http.response.body', got {kind!r}")
        if self.disconnected:
            return  # nobody to send to; the app learns it from receive()
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        transport = self._transport
        # One write per message, so a response sent at once costs one send() call.
        out = b"" if self._head_written else self._head(len(body) if not more else None)
        if body and self._sends_body():
            if self._length_left is not None:
                # RFC 9112 §6.3: more than the declared length would be read as the
                # start of the next response on a keep-alive connection.
                if len(body) > self._length_left:
                    raise ResponseError("response body longer than its Content-Length")
                self._length_left -= len(body)
            out += encode_chunk(body) if self._chunked else body
            self.bytes_sent += len(body)
        if not more and self._chunked:
            out += LAST_CHUNK
        if out:
            transport.write(out)
        if not more:
            if self._length_left:  # shorter than declared: only closing can end it
                self.keep_alive = False
            self.response_complete = True
            self._wake()
            self._on_done(self)
            return
        await self._flow.drain()

    def fail(self, status: int) -> None:
        """Answer for an app that failed before starting its response; closes after."""
        body = f"{status} {reason_phrase(status)}\n".encode()
        self.keep_alive = False
        self._headers = [("Content-Type", "text/plain; charset=utf-8")]
        self.status = status
        self.response_started = True
        self._transport.write(self._head(len(body)) + (body if self._sends_body() else b""))
        self.bytes_sent = len(body)
        self.response_complete = True
        self._wake()
        self._on_done(self)

    def _start(self, message: Message) -> None:
        status = message["status"]
        if not isinstance(status, int) or not 100 <= status <= 999:
            raise ResponseError(f"invalid status {status!r}")
        headers: list[tuple[str, str]] = []
        for name, value in message.get("headers", ()):
            headers.append((bytes(name).decode("latin-1"), bytes(value).decode("latin-1")))
        self._headers = headers
        self.status = status
        self.response_started = True

    def _sends_body(self) -> bool:
        method = self.head.method
        status = self.status
        return not (method == "HEAD" or status < 200 or status in (204, 304))

    def _head(self, whole_length: int | None) -> bytes:
        """The response head; ``whole_length`` is the body's size when sent at once."""
        status = self.status
        content_length: int | None = None
        fields: list[tuple[str, str]] = []
        for name, value in self._headers:
            lower = name.lower()
            if lower == "content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    raise ResponseError(f"invalid Content-Length {value!r}") from None
            elif lower == "connection":
                if "close" in value.lower():
                    self.keep_alive = False
            elif lower != "transfer-encoding":  # the server frames the body itself
                fields.append((name, value))
        no_content = status < 200 or status in (204, 304)  # RFC 9110 §8.6, §15.4.5
        if no_content:
            content_length = None if status != 304 else content_length
        elif content_length is None:
            if whole_length is not None:
                content_length = whole_length
            elif self.head.http_version == "HTTP/1.1":
                self._chunked = self.head.method != "HEAD"
            else:
                self.keep_alive = False  # RFC 9112 §6.3 item 8: the close ends the body
        head = format_head(
            self.head.http_version,
            status,
            fields,
            date=self._state.http_date(),
            content_length=content_length,
            chunked=self._chunked,
            keep_alive=self.keep_alive,
        )
        self._head_written = True
        if content_length is not None and self._sends_body():
            self._length_left = content_length
        return head
