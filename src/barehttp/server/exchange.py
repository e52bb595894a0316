"""ServerExchange: one request on a connection and the writer for its response."""

from __future__ import annotations

import enum
import logging
from typing import BinaryIO

from barehttp.protocol.errors import HTTPError, format_error_body
from barehttp.protocol.events import BodyData, RequestHead
from barehttp.protocol.writer import (
    LAST_CHUNK,
    encode_chunk,
    format_continue,
    format_head,
    has_body,
)
from barehttp.server.access_log import log_access
from barehttp.server.context import ServerContext
from barehttp.server.handler import Handler
from barehttp.server.request_reader import RequestReader
from barehttp.server.transport import Transport

logger = logging.getLogger("barehttp.server")


class ResponseState(enum.Enum):
    NOT_STARTED = enum.auto()
    STREAMING = enum.auto()  # head written, body under way
    COMPLETE = enum.auto()


# Enum members looked up on their class cost about four times a module global in
# CPython 3.11; the per-request paths compare against these aliases instead.
_NOT_STARTED = ResponseState.NOT_STARTED
_STREAMING = ResponseState.STREAMING
_COMPLETE = ResponseState.COMPLETE


class ServerExchange:
    """Implements :class:`barehttp.server.handler.Exchange` over a socket."""

    __slots__ = (
        "_body_complete",
        "_chunked",
        "_close_requested",
        "_continue_sent",
        "_declared_length",
        "_keep_alive",
        "_pending_body",
        "_send_body",
        "_unsent_head",
        "bytes_sent",
        "client_address",
        "context",
        "head",
        "is_tls",
        "max_body_bytes",
        "peer_ip",
        "reader",
        "request_started",
        "scheme",
        "server_address",
        "state",
        "status",
        "transport",
        "upgraded",
    )

    def __init__(
        self,
        head: RequestHead,
        transport: Transport,
        reader: RequestReader,
        context: ServerContext,
        client_address: tuple[str, int],
        server_address: tuple[str, int],
        request_started: float,
    ) -> None:
        self.head = head
        self.transport = transport
        self.reader = reader
        # The address counted for this connection, before proxy headers replace
        # client_address; and whether the connection switched to WebSocket.
        self.peer_ip = client_address[0]
        self.upgraded = False
        self.context = context
        self.client_address = client_address
        self.server_address = server_address
        self.request_started = request_started  # on the context's clock
        self.is_tls = transport.is_tls
        self.max_body_bytes = context.limits.max_body_bytes  # the one body cap (web/app.py)
        self.scheme = "https" if self.is_tls else "http"
        self.state = _NOT_STARTED
        self.status = 0
        self.bytes_sent = 0
        self._chunked = False
        self._keep_alive = head.keep_alive
        self._send_body = True
        self._close_requested = False
        self._continue_sent = False
        self._declared_length: int | None = None  # Content-Length of a started response
        self._body_complete = not (head.chunked or head.content_length)
        self._pending_body = b""
        self._unsent_head = b""

    @property
    def headers_sent(self) -> bool:
        return self.state is not _NOT_STARTED

    # -- request body ----------------------------------------------------------

    def read_body(self, max_bytes: int = 65_536) -> bytes:
        if self._pending_body:
            data, self._pending_body = (
                self._pending_body[:max_bytes],
                self._pending_body[max_bytes:],
            )
            return data
        if self._body_complete:
            return b""
        if self.head.expects_continue and not self._continue_sent:
            # RFC 9110 §10.1.1: the client waits for this before sending the body. A
            # final head held back by start_response() has not gone out: 100 may still.
            self._continue_sent = True
            if self.state is _NOT_STARTED or self._unsent_head:
                self.transport.sendall(format_continue(self.head.http_version))
        try:
            event = self.reader.next_body_event()
        except HTTPError:
            # Bad framing, a timeout or a client gone mid-body: where the next
            # request would start is unknown, so the response must say close (and
            # finish() must not wait for the rest of this body a second time).
            self._close_requested = True
            raise
        if not isinstance(event, BodyData):
            self._body_complete = True
            return b""
        data = event.data
        if len(data) > max_bytes:
            self._pending_body = data[max_bytes:]
            data = data[:max_bytes]
        return data

    # -- response --------------------------------------------------------------

    def close_connection(self) -> None:
        self._close_requested = True

    def _begin(self, status: int) -> bool:
        """Settle keep-alive for the response; returns whether a body is sent."""
        if self.state is not _NOT_STARTED:
            raise RuntimeError("response already started")
        head = self.head
        self.status = status
        if self._close_requested or self.context.draining:
            self._keep_alive = False
        elif not self._body_complete and (
            not self.reader.request_is_read
            and (
                # The client may still be sending a body we never asked for (100-continue
                # unanswered) or one too big to read and drop: closing is the only safe end.
                (head.expects_continue and not self._continue_sent)
                or head.chunked
                # Bytes of an unread body dropped to keep the connection alive: at most
                # what would have been gathered before dispatch; more is cut off by closing.
                or (head.content_length or 0) > self.context.limits.body_prebuffer_bytes
            )
        ):
            self._keep_alive = False
        send_body = self._send_body = has_body(head.method, status)
        return send_body

    def send_response(self, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        send_body = self._begin(status)
        # RFC 9110 §8.6: no Content-Length in 1xx/204; for HEAD it is the GET length, and a
        # 304 may only carry the 200's length: without that body, "0" would be a false claim.
        has_no_length = status < 200 or status == 204 or (status == 304 and not body)
        length = None if has_no_length else len(body)
        data = format_head(
            self.head.http_version,
            status,
            headers,
            date=self.context.http_date(),
            content_length=length,
            chunked=False,
            keep_alive=self._keep_alive,
        )
        self.state = _COMPLETE
        if not (send_body and body):
            body = b""
        self.bytes_sent += len(body)
        self.transport.send_last(data, body)

    def start_response(
        self, status: int, headers: list[tuple[str, str]], content_length: int | None = None
    ) -> None:
        send_body = self._begin(status)
        chunked = False
        if content_length is None and send_body:
            if self.head.http_version == "HTTP/1.1":
                chunked = True  # RFC 9112 §7: length unknown up front
            else:
                self._keep_alive = False  # HTTP/1.0: the end of the body is the close
        if status < 200 or status == 204:
            content_length = None
        data = format_head(
            self.head.http_version,
            status,
            headers,
            date=self.context.http_date(),
            content_length=content_length,
            chunked=chunked,
            keep_alive=self._keep_alive,
        )
        self._chunked = chunked
        self._declared_length = content_length if send_body else None
        self.state = _STREAMING
        # Held back until the first body bytes (or end()), so that head and body
        # leave in one send: fewer packets, and no client sees a head whose body
        # never starts. PEP 3333 asks the same of WSGI servers.
        self._unsent_head = data

    def discard_unsent_head(self) -> bool:
        """Take back a response whose head is still held back; False once it went out.

        Then nothing reached the client, so an error response can replace it.
        """
        if self.state is not _STREAMING or not self._unsent_head:
            return False
        self._unsent_head = b""
        self._chunked = False
        self._declared_length = None
        self.state = _NOT_STARTED
        return True

    def _completes_body(self, count: int) -> bool:
        """True when ``count`` more bytes end a body of declared length: they are
        the response's last, which a slow reader gets from the reactor (see outbox.py)."""
        return not self._chunked and self._declared_length == self.bytes_sent + count

    def _take_unsent_head(self) -> bytes:
        head, self._unsent_head = self._unsent_head, b""
        return head

    def write(self, data: bytes) -> None:
        if self.state is not _STREAMING:
            raise RuntimeError("write() needs start_response() first")
        if not data or not self._send_body:
            return
        body = encode_chunk(data) if self._chunked else data
        transport = self.transport
        if transport.outbox is not None:  # bytes beyond a complete body: keep them in order
            transport.outbox.append(bytes(body))
            self.bytes_sent += len(data)
            return
        head = self._take_unsent_head()
        if self._completes_body(len(data)):
            self.bytes_sent += len(data)
            self.transport.send_last(head, body)
            return
        transport.send_body_part(head, body)
        self.bytes_sent += len(data)

    def send_file(self, file: BinaryIO, offset: int, count: int) -> None:
        if self.state is not _STREAMING:
            raise RuntimeError("send_file() needs start_response() first")
        if count <= 0 or not self._send_body:
            return
        prefix = self._take_unsent_head()
        if self._chunked:
            prefix += b"%x\r\n" % count
        last = self._completes_body(count)
        self.transport.send_file(prefix, file, offset, count, last=last)
        if self._chunked:
            self.transport.sendall(b"\r\n")
        self.bytes_sent += count

    def end(self) -> None:
        if self.state is _STREAMING:
            data = self._take_unsent_head()
            if self._chunked and self._send_body:
                data += LAST_CHUNK
            if data:
                self.transport.send_or_queue(data)
            self.state = _COMPLETE

    def send_error(self, error: HTTPError) -> None:
        """A plain-text error response; the message is meant for the client."""
        self.send_response(
            error.status, [("Content-Type", "text/plain; charset=utf-8")], format_error_body(error)
        )

    def mark_upgraded(self) -> None:
        """The 101 went out: the socket now belongs to the WebSocket side
        (websocket_upgrade.py); nothing more is written or read here."""
        self.upgraded = True
        self.status = 101
        self.state = _COMPLETE

    def run(self, handler: Handler) -> bool | None:
        """Run ``handler`` and complete the response: True if the connection can carry
        another request, False to close after it, None to close at once (cut off)."""
        try:
            handler(self)
        except HTTPError as error:
            if self.headers_sent and not self.discard_unsent_head():
                return None
            self.send_error(error)
        except OSError:  # the client went away mid-response
            return None
        except BaseException:  # SystemExit too: in a worker it would only end the thread
            logger.exception("handler failed for %s %s", self.head.method, self.head.path)
            # Too late to change a response whose head went out: cut it off.
            if self.headers_sent and not self.discard_unsent_head():
                return None
            self.send_error(HTTPError("Internal Server Error"))
        if self.upgraded:  # the connection left HTTP: the caller must not touch it
            if self.context.access_log:
                self.log_access()
            return False
        try:
            keep_alive = self.finish()
        except OSError:
            keep_alive = False
        if self.context.access_log:
            self.log_access()
        return keep_alive

    def finish(self) -> bool:
        """Complete the response; True if the connection can carry another request."""
        if self.state is _NOT_STARTED:
            logger.error("handler returned without a response for %s", self.head.path)
            self._keep_alive = False
            self.send_error(HTTPError("Internal Server Error"))
        elif self.state is _STREAMING:
            if self._close_requested:
                # The handler gave up mid-body: closing without the last chunk is how
                # the client learns the body is incomplete (RFC 9112 §8). A head still
                # held back goes out first: without it the client would get no answer.
                head = self._take_unsent_head()
                if head:
                    self.transport.sendall(head)
                return False
            self.end()
        if not self._keep_alive or self._close_requested:  # also asked after the head went
            return False
        if self._declared_length is not None and self.bytes_sent != self._declared_length:
            # The client frames the body by its Content-Length: after more or fewer
            # bytes than that, only closing ends the response where both sides agree.
            logger.error(
                "response body of %d bytes, %d declared, for %s",
                self.bytes_sent,
                self._declared_length,
                self.head.path,
            )
            return False
        return self._body_complete or self.reader.drain_body()

    def log_access(self) -> None:
        """One access log line (see access_log.py) on ``barehttp.access``."""
        context = self.context
        log_access(
            self.head,
            self.client_address[0],
            self.status,
            self.bytes_sent,
            log_format=context.access_log_format,
            duration_s=context.clock() - self.request_started,
        )
