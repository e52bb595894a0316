"""HttpConnection: one client connection on the event loop, HTTP/1.1 until an upgrade.

Bytes go into the sans-IO ``RequestParser``; each request runs the app as a task
with an ``HttpCycle``. An idle keep-alive connection is only a registered socket
(no thread, no task). Timeouts are loop timers: ``idle_timeout_s`` while waiting
for a request, ``header_timeout_s`` once its first byte came (408, RFC 9110 §15.5.9),
and a request body's pace (``body_timeout_s`` of silence, ``min_body_rate_bytes_per_s``
on average: server/body_reader.py's ``BodyPace``), counted only while the app reads:
while reading is paused for an app that has not taken what came, the client is not late.
A WebSocket upgrade hands the socket to a ``WebSocketSession``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any, cast

from barehttp.asgi.flow import FlowControl
from barehttp.asgi.http_cycle import HttpCycle
from barehttp.asgi.scope import base_scope, http_scope
from barehttp.asgi.state import ServerState
from barehttp.asgi.websocket import WebSocketSession
from barehttp.protocol.errors import HTTPError, RequestTimeout, ServiceUnavailable
from barehttp.protocol.events import BodyData, EndOfMessage, RequestHead
from barehttp.protocol.parser import ParseState, RequestParser
from barehttp.protocol.websocket_handshake import is_upgrade_request, parse_upgrade_request
from barehttp.protocol.writer import format_head
from barehttp.server.access_log import log_access
from barehttp.server.body_reader import BodyPace
from barehttp.server.listener import UNIX_PEER, socket_address

logger = logging.getLogger("barehttp.asgi")

# What the connection's one deadline is for (Limits names each timeout).
_IDLE = 0  # idle_timeout_s: no request on a keep-alive connection; closed silently
_HEAD = 1  # header_timeout_s: from a request's first byte to its whole head; 408
_BODY = 2  # the request body's pace (BodyPace): silence or too slow on average; 408


class HttpConnection(asyncio.Protocol):
    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._parser = RequestParser(state.limits)
        self._transport: asyncio.Transport | None = None
        self._flow: FlowControl | None = None
        self._cycle: HttpCycle | None = None
        self._task: asyncio.Task[None] | None = None
        self._websocket: WebSocketSession | None = None
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._deadline: float | None = None
        self._deadline_kind = _IDLE
        self._head_timer_armed = False
        self._pace: BodyPace | None = None  # while a request body is arriving
        self._server: tuple[str, int] | None = None
        self._client: tuple[str, int] | None = None
        self._closed = False

    # -- asyncio.Protocol --------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport = cast(asyncio.Transport, transport)
        self._flow = FlowControl(transport, self._state.limits.write_timeout_s)
        self._flow.on_reading_resumed = self._restart_pace
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            self._server = socket_address(sock.getsockname())
            self._client = socket_address(transport.get_extra_info("peername"))
        state = self._state
        if len(state.connections) >= state.limits.max_connections:
            self._refuse(ServiceUnavailable("too many open connections"))
            return
        state.connections.add(self)
        self._arm(state.limits.idle_timeout_s, _IDLE)
        if state.shutting_down:  # its TLS handshake ended during the drain
            self.shutdown()

    def data_received(self, data: bytes) -> None:
        if self._websocket is not None:
            self._websocket.data_received(data)
            return
        if self._cycle is None and not self._head_timer_armed:
            self._head_timer_armed = True  # first byte of a request: the head has a deadline
            self._arm(self._state.limits.header_timeout_s, _HEAD)
        self._feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._state.forget(self)
        if self._flow is not None:
            self._flow.resume_writing()
        if self._cycle is not None:
            self._cycle.disconnect()
        if self._websocket is not None:
            self._websocket.connection_lost()

    def pause_writing(self) -> None:
        if self._flow is not None:
            self._flow.pause_writing()

    def resume_writing(self) -> None:
        if self._flow is not None:
            self._flow.resume_writing()

    # -- server shutdown ---------------------------------------------------------

    def shutdown(self) -> None:
        """The response in flight is the last (Connection: close). An idle connection
        gets ``drain_keep_alive_s`` for a request on its way (a new connection's first,
        a kept-alive one's next), answered with Connection: close; closing at once could
        reset a request the client already sent."""
        if self._websocket is not None:
            self._websocket.shutdown()
        elif self._cycle is None:
            deadline = self._loop.time() + self._state.limits.drain_keep_alive_s
            # No request has begun: wait briefly (not past the idle deadline), then close.
            if not self._head_timer_armed and (self._deadline or deadline) >= deadline:
                self._arm_at(deadline, _IDLE)
        elif not self._cycle.response_started:
            self._cycle.keep_alive = False

    def abort(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._websocket is not None:
            self._websocket.abort()
        if self._transport is not None:
            self._transport.abort()

    # -- requests ----------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        parser = self._parser
        try:
            events = parser.feed(data)
            if parser.state is ParseState.FAILED:
                parser.feed(b"")  # raises the pending error now, not on the next read
        except HTTPError as error:
            self._on_parse_error(error)
            return
        for event in events:
            if isinstance(event, RequestHead):
                self._start_request(event)
                if self._websocket is not None:
                    return
            elif isinstance(event, BodyData):
                assert self._cycle is not None
                if self._pace is not None:
                    try:
                        self._pace.received(len(event.data), self._loop.time())
                    except RequestTimeout as error:
                        self._body_late(error)
                        return
                    self._arm_at(self._pace.deadline, _BODY)
                self._cycle.feed_body(event.data)
            elif isinstance(event, EndOfMessage):
                assert self._cycle is not None
                self._pace = None
                self._cycle.end_body()
                self._cancel_timer()
        if parser.buffered_bytes > self._state.limits.max_request_line_bytes and (
            parser.state is ParseState.DONE
        ):
            assert self._flow is not None
            self._flow.pause_reading()  # pipelined requests wait for this response

    def _on_parse_error(self, error: HTTPError) -> None:
        cycle = self._cycle
        if cycle is not None:
            cycle.disconnect()  # the body is broken; the app sees the client go
            if cycle.response_started:
                self._close()
                return
        self._refuse(error)

    def _start_request(self, head: RequestHead) -> None:
        self._cancel_timer()
        self._head_timer_armed = False
        assert self._transport is not None and self._flow is not None
        state = self._state
        if is_upgrade_request(head) and head.method == "GET":
            try:
                upgrade = parse_upgrade_request(head)
            except HTTPError as error:
                self._refuse(error)
                return
            scope = base_scope("websocket", head, state, self._server, self._client)
            scope["subprotocols"] = list(upgrade.subprotocols)
            scope["extensions"] = {"websocket.http.response": {}}
            session = WebSocketSession(
                scope, upgrade, state, self._transport, self._flow, self._parser.take_buffered()
            )
            self._websocket = session
            session.start()
            return
        if head.chunked or head.content_length:
            self._pace = BodyPace(state.limits, self._loop.time())
            self._arm_at(self._pace.deadline, _BODY)
        cycle = HttpCycle(head, state, self._transport, self._flow, self._on_response_done)
        self._cycle = cycle
        scope = http_scope(head, state, self._server, self._client)
        cycle.client = scope["client"]
        self._task = asyncio.get_running_loop().create_task(self._run_app(scope, cycle))

    async def _run_app(self, scope: dict[str, Any], cycle: HttpCycle) -> None:
        try:
            await self._state.app(scope, cycle.receive, cycle.send)
        except Exception:
            logger.exception("exception in ASGI application")
            if not cycle.response_started and not cycle.disconnected:
                cycle.keep_alive = False
                cycle.fail(500)
            elif not cycle.response_complete:
                self._close()
            return
        except asyncio.CancelledError:
            return
        if not cycle.response_complete and not cycle.disconnected:
            if not cycle.response_started:
                logger.error("ASGI application returned without a response")
                cycle.fail(500)
            else:
                logger.error("ASGI application returned before its response was complete")
                self._close()

    def _on_response_done(self, cycle: HttpCycle) -> None:
        state = self._state
        if state.access_log:
            log_access(
                cycle.head,
                cycle.client[0] if cycle.client else UNIX_PEER,
                cycle.status,
                cycle.bytes_sent,
                log_format=state.access_log_format,
                duration_s=time.monotonic() - cycle.started_at,
            )
        self._cycle = None
        self._task = None
        state.count_response()
        parser = self._parser
        if not cycle.keep_alive or state.shutting_down or parser.state is not ParseState.DONE:
            self._close()  # an unread body: its bytes cannot be told from the next request
            return
        parser.start_next()
        assert self._flow is not None
        self._flow.resume_reading()
        self._arm(state.limits.idle_timeout_s, _IDLE)
        if parser.buffered_bytes:
            self._head_timer_armed = True
            self._arm(state.limits.header_timeout_s, _HEAD)
            self._feed(b"")  # a pipelined request

    def _refuse(self, error: HTTPError) -> None:
        """Answer a request we cannot take with its status, then close (RFC 9112 §9.6)."""
        assert self._transport is not None
        body = f"{error.status} {error.reason}: {error.message}\n".encode()
        extra: tuple[tuple[str, str], ...] = getattr(error, "headers", ())
        head = format_head(
            "HTTP/1.1",
            error.status,
            [("Content-Type", "text/plain; charset=utf-8"), *extra],
            date=self._state.http_date(),
            content_length=len(body),
            chunked=False,
            keep_alive=False,
        )
        self._transport.write(head + body)
        self._close()

    # -- timers --------------------------------------------------------------------

    # One loop timer per connection, moved lazily: a keep-alive request sets and
    # clears two deadlines (idle, then head), and moving a deadline is an assignment.
    def _arm(self, seconds: float, kind: int) -> None:
        self._arm_at(self._loop.time() + seconds, kind)

    def _arm_at(self, deadline: float, kind: int) -> None:
        loop = self._loop
        self._deadline = deadline
        self._deadline_kind = kind
        if self._timer is not None and self._timer_at > deadline:
            self._timer.cancel()
            self._timer = None
        if self._timer is None:
            self._timer_at = deadline
            self._timer = loop.call_at(deadline, self._on_timer)

    def _cancel_timer(self) -> None:
        self._deadline = None

    def _on_timer(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self._closed:
            return
        if self._loop.time() < deadline:  # moved later since scheduled
            self._timer_at = deadline
            self._timer = self._loop.call_at(deadline, self._on_timer)
            return
        self._deadline = None
        self._on_timeout(self._deadline_kind)

    def _restart_pace(self) -> None:
        """Reading resumed after the app caught up: the body's pace starts afresh."""
        if self._pace is not None and not self._closed:
            self._pace = BodyPace(self._state.limits, self._loop.time())
            self._arm_at(self._pace.deadline, _BODY)

    def _body_late(self, error: RequestTimeout) -> None:
        """RFC 9110 §15.5.9: the body stalled or trickled; the app sees the client go."""
        self._pace = None
        cycle = self._cycle
        if cycle is not None and not cycle.body_complete:
            cycle.disconnect()
            if cycle.response_started:
                self._close()
            else:
                self._refuse(error)

    def _on_timeout(self, kind: int) -> None:
        cycle = self._cycle
        if kind == _BODY:
            pace = self._pace
            assert self._flow is not None
            if pace is None or self._flow.is_read_paused:
                return  # the app is behind, not the client: resuming restarts the pace
            try:
                pace.check(self._loop.time())
            except RequestTimeout as error:
                self._body_late(error)
                return
            self._arm_at(pace.deadline, _BODY)  # bytes came since; a later deadline
        elif cycle is not None or self._websocket is not None:
            return
        elif kind == _HEAD:  # a request head that did not complete in time
            self._refuse(RequestTimeout("request head not received in time"))
        else:
            self._close()

    def _close(self) -> None:
        self._cancel_timer()
        if self._transport is not None and not self._closed:
            self._closed = True
            self._transport.close()
