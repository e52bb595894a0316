"""WebSocketSession: an upgraded connection as ASGI ``websocket`` receive and send.

The sans-IO ``WebSocketConnection`` does the framing, the replies to Ping and
Close, and the close codes for broken rules (RFC 6455); this module moves its
bytes and turns its events into ASGI messages. States: ``CONNECTING`` until the
app accepts (101) or denies (403, RFC 6455 §4.2.2: any status but 101 refuses),
``OPEN``, ``CLOSING`` once our Close is sent, ``CLOSED`` when TCP is done.
While open, ``Keepalive`` pings a silent peer and drops one that stays silent.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging
from typing import Any

from barehttp.asgi.flow import FlowControl
from barehttp.asgi.loader import Message
from barehttp.asgi.state import ServerState
from barehttp.asgi.websocket_keepalive import Keepalive
from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_errors import CloseCode
from barehttp.protocol.websocket_events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    TextMessage,
)
from barehttp.protocol.websocket_handshake import UpgradeRequest, accept_upgrade
from barehttp.protocol.writer import format_head, reason_phrase

logger = logging.getLogger("barehttp.asgi")


class SessionState(enum.Enum):
    CONNECTING = enum.auto()  # the app has not accepted or denied yet
    OPEN = enum.auto()
    CLOSING = enum.auto()  # our Close is sent; the peer's is awaited (§7.1.2)
    CLOSED = enum.auto()  # denied, or TCP closed


class ClientDisconnected(OSError):
    """The app sent a message on a WebSocket that is already closed."""


class WebSocketSession:
    def __init__(
        self,
        scope: dict[str, Any],
        upgrade: UpgradeRequest,
        state: ServerState,
        transport: asyncio.Transport,
        flow: FlowControl,
        early: bytes,
    ) -> None:
        self._scope = scope
        self._upgrade = upgrade
        self._state = state
        self._transport = transport
        self._flow = flow
        self._pending = bytearray(early)  # frames sent before our 101
        self._connection: WebSocketConnection | None = None
        self._messages: collections.deque[Message] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._connect_delivered = False
        self._disconnect_queued = False
        self._close_timer: asyncio.TimerHandle | None = None
        # The websocket.http.response extension: the app's own denial, gathered whole.
        self._denial: tuple[int, list[tuple[str, str]]] | None = None
        self._denial_body = bytearray()
        self._task: asyncio.Task[None] | None = None
        self._keepalive: Keepalive | None = None
        self.state = SessionState.CONNECTING

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self._state.app(self._scope, self.receive, self.send)
        except asyncio.CancelledError:
            return
        except Exception:
            logger.exception("exception in ASGI application (websocket)")
            self._finish(CloseCode.INTERNAL_ERROR, 500)
            return
        self._finish(CloseCode.NORMAL_CLOSURE, 500)

    def _finish(self, code: int, status: int) -> None:
        """After the app: a handshake it never answered gets ``status``, an open socket ``code``."""
        if self.state is SessionState.CONNECTING:
            self._deny(status)
        elif self.state is SessionState.OPEN:
            self._close(code, "")

    # -- the app's receive -------------------------------------------------------

    async def receive(self) -> Message:
        if not self._connect_delivered:
            self._connect_delivered = True
            return {"type": "websocket.connect"}
        while not self._messages:
            if self._disconnect_queued:  # asked again after the disconnect
                return {"type": "websocket.disconnect", "code": CloseCode.ABNORMAL_CLOSURE}
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
            self._waiter = None
        message = self._messages.popleft()
        if len(self._messages) < self._state.websocket_limits.max_queued_messages:
            self._flow.resume_reading()
        return message

    def _queue(self, message: Message) -> None:
        if message["type"] == "websocket.disconnect":
            if self._disconnect_queued:
                return
            self._disconnect_queued = True
        self._messages.append(message)
        if len(self._messages) >= self._state.websocket_limits.max_queued_messages:
            self._flow.pause_reading()  # the app reads at its own pace
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # -- the app's send ----------------------------------------------------------

    async def send(self, message: Message) -> None:
        kind = message["type"]
        state = self.state
        if state is SessionState.CONNECTING:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._deny(403)  # ASGI: a close before accept is an HTTP 403
            elif kind in ("websocket.http.response.start", "websocket.http.response.body"):
                self._denial_response(message)
            else:
                raise RuntimeError(
                    f"expected 'websocket.accept' or 'websocket.close', got {kind!r}"
                )
            return
        if kind == "websocket.close":
            if state is SessionState.OPEN:
                self._close(message.get("code") or 1000, message.get("reason") or "")
            return
        if kind != "websocket.send":
            raise RuntimeError(f"expected 'websocket.send' or 'websocket.close', got {kind!r}")
        if state is not SessionState.OPEN:
            raise ClientDisconnected("the WebSocket is closed")
        connection = self._connection
        assert connection is not None
        text = message.get("text")
        if text is not None:
            connection.send_text(text)
        else:
            connection.send_binary(message.get("bytes") or b"")
        self._transport.write(connection.data_to_send())
        await self._flow.drain()

    def _accept(self, message: Message) -> None:
        extra = [
            (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
            for name, value in message.get("headers", ())
        ]
        limits = self._state.websocket_limits
        acceptance = accept_upgrade(
            self._upgrade,
            subprotocol=message.get("subprotocol"),
            limits=limits,
            extra_fields=extra,
        )
        self._transport.write(acceptance.format_head())
        self._connection = WebSocketConnection(limits=limits, deflate=acceptance.deflate)
        self.state = SessionState.OPEN
        self._keepalive = Keepalive(
            limits,
            send_ping=self._send_ping,
            on_silence=self._drop_silent_peer,
            is_reading_paused=lambda: self._flow.is_read_paused,
        )
        self._keepalive.start()
        if self._pending:
            early, self._pending = bytes(self._pending), bytearray()
            self.data_received(early)

    def _denial_response(self, message: Message) -> None:
        if message["type"] == "websocket.http.response.start":
            if self._denial is not None:
                raise RuntimeError("'websocket.http.response.start' sent twice")
            fields = [
                (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
                for name, value in message.get("headers", ())
                if bytes(name).lower()
                not in (b"content-length", b"transfer-encoding", b"connection")
            ]
            self._denial = (int(message["status"]), fields)
            return
        if self._denial is None:
            raise RuntimeError("'websocket.http.response.body' before its start")
        self._denial_body += message.get("body", b"")
        if not message.get("more_body", False):
            status, fields = self._denial
            self._deny(status, fields, bytes(self._denial_body))

    def _deny(
        self, status: int, fields: list[tuple[str, str]] | None = None, body: bytes | None = None
    ) -> None:
        if body is None:
            body = f"{status} {reason_phrase(status)}\n".encode()
        head = format_head(
            "HTTP/1.1",
            status,
            [("Content-Type", "text/plain; charset=utf-8")] if fields is None else fields,
            date=self._state.http_date(),
            content_length=len(body),
            chunked=False,
            keep_alive=False,
        )
        self._transport.write(head + body)
        self._transport.close()
        self.state = SessionState.CLOSED
        self._queue({"type": "websocket.disconnect", "code": CloseCode.ABNORMAL_CLOSURE})

    def _send_ping(self) -> None:
        assert self._connection is not None
        self._connection.send_ping()
        self._transport.write(self._connection.data_to_send())

    def _drop_silent_peer(self) -> None:
        """No byte for ping_timeout_s after our Ping: 1011, then TCP is dropped."""
        logger.info("WebSocket peer silent after a ping: closing (1011)")
        self._queue({"type": "websocket.disconnect", "code": CloseCode.INTERNAL_ERROR})
        self._close(CloseCode.INTERNAL_ERROR, "ping timeout")
        self.state = SessionState.CLOSED
        self._transport.close()  # no wait for a Close from a peer that says nothing

    def _close(self, code: int, reason: str) -> None:
        """Send our Close; TCP closes on the peer's reply or after the close timeout."""
        if self._keepalive is not None:
            self._keepalive.stop()
        connection = self._connection
        assert connection is not None
        connection.send_close(code, reason)
        self._transport.write(connection.data_to_send())
        self.state = SessionState.CLOSING
        loop = asyncio.get_running_loop()
        # abort, not close: close would wait for a peer that reads nothing to take our bytes.
        self._close_timer = loop.call_later(
            self._state.websocket_limits.close_timeout_s, self._transport.abort
        )

    # -- from the connection -----------------------------------------------------

    def data_received(self, data: bytes) -> None:
        connection = self._connection
        if connection is None:
            self._pending += data
            if len(self._pending) > self._state.websocket_limits.max_frame_bytes:
                self._flow.pause_reading()  # frames before our answer: wait for it
            return
        if self._keepalive is not None:
            self._keepalive.heard()
        events = connection.receive_data(data)
        outgoing = connection.data_to_send()
        if outgoing:
            self._transport.write(outgoing)  # Pongs, the reply to a Close, a failure's Close
        for event in events:
            self._on_event(event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, TextMessage):
            self._queue({"type": "websocket.receive", "text": event.data})
        elif isinstance(event, BinaryMessage):
            self._queue({"type": "websocket.receive", "bytes": event.data})
        elif isinstance(event, CloseReceived | ConnectionFailed):
            reason = event.reason
            self._queue({"type": "websocket.disconnect", "code": event.code, "reason": reason})
            self.state = SessionState.CLOSED
            self._transport.close()  # §7.1.1: the server closes TCP first

    def connection_lost(self) -> None:
        self.state = SessionState.CLOSED
        if self._keepalive is not None:
            self._keepalive.stop()
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._queue({"type": "websocket.disconnect", "code": CloseCode.ABNORMAL_CLOSURE})

    # -- server shutdown ---------------------------------------------------------

    def shutdown(self) -> None:
        """RFC 6455 §7.4.1: 1001, the server is going away."""
        if self.state is SessionState.OPEN:
            self._close(CloseCode.GOING_AWAY, "server shutting down")
        elif self.state is SessionState.CONNECTING:
            self._deny(503)

    def abort(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._transport.abort()
