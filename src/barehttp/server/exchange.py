"""ServerExchange: one request on a connection and the writer for its response."""

from __future__ import annotations

import collections
import enum
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, BinaryIO

from barehttp.protocol.errors import HTTPError, format_error_body
from barehttp.protocol.events import BodyData, EndOfMessage, RequestHead
from barehttp.protocol.parser import ParseState
from barehttp.protocol.writer import (
    LAST_CHUNK,
    encode_chunk,
    format_continue,
    format_head,
    has_body,
)
from barehttp.server.access_log import log_access
from barehttp.server.outbox import FileRange, Part

if TYPE_CHECKING:
    from barehttp.server.connection import Connection

logger = logging.getLogger("barehttp.server")

# Bodies up to this size are joined with the head and written in one send();
# larger ones go out with the head in one gather write (sendmsg), since copying
# them would cost more than the join saves.
SINGLE_SEND_MAX_BYTES = 16_384
_MSG_MORE = getattr(socket, "MSG_MORE", 0)  # Linux; elsewhere head and file go apart
_MSG_DONTWAIT = socket.MSG_DONTWAIT


class ResponseState(enum.Enum):
    NOT_STARTED = enum.auto()
    STREAMING = enum.auto()  # head written, body under way
    COMPLETE = enum.auto()


# Enum members looked up on their class cost about four times a module global in
# CPython 3.11; the per-request paths compare against these aliases instead.
_NOT_STARTED = ResponseState.NOT_STARTED
_STREAMING = ResponseState.STREAMING
_COMPLETE = ResponseState.COMPLETE
_PARSE_DONE = ParseState.DONE


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
        "connection",
        "head",
        "is_tls",
        "scheme",
        "server_address",
        "state",
        "status",
    )

    def __init__(self, connection: Connection, head: RequestHead) -> None:
        self.connection = connection
        self.head = head
        self.client_address = connection.client_address
        self.server_address = connection.server_address
        self.is_tls = connection.is_tls
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
        connection = self.connection
        if self.head.expects_continue and not self._continue_sent:
            # RFC 9110 §10.1.1: the client waits for this before sending the body. A
            # final head held back by start_response() has not gone out: 100 may still.
            self._continue_sent = True
            if self.state is _NOT_STARTED or self._unsent_head:
                connection.sock.sendall(format_continue(self.head.http_version))
        events = connection.events
        while True:
            while events:
                event = events.popleft()
                if isinstance(event, BodyData):
                    data = event.data
                    if len(data) > max_bytes:
                        self._pending_body = data[max_bytes:]
                        data = data[:max_bytes]
                    return data
                if isinstance(event, EndOfMessage):
                    self._body_complete = True
                    return b""
            try:
                events.extend(connection.receive_body_bytes())
            except HTTPError:
                # Bad framing, a timeout or a client gone mid-body: where the next
                # request would start is unknown, so the response must say close (and
                # finish() must not wait for the rest of this body a second time).
                self._close_requested = True
                raise

    # -- response --------------------------------------------------------------

    def close_connection(self) -> None:
        self._close_requested = True

    def _begin(self, status: int) -> bool:
        """Settle keep-alive for the response; returns whether a body is sent."""
        if self.state is not _NOT_STARTED:
            raise RuntimeError("response already started")
        head = self.head
        self.status = status
        if self._close_requested or self.connection.context.draining:
            self._keep_alive = False
        elif not self._body_complete and (
            self.connection.parser.state is not _PARSE_DONE
            and (
                # The client may still be sending a body we never asked for (100-continue
                # unanswered) or one too big to read and drop: closing is the only safe end.
                (head.expects_continue and not self._continue_sent)
                or head.chunked
                # Bytes of an unread body dropped to keep the connection alive: at most
                # what would have been gathered before dispatch; more is cut off by closing.
                or (head.content_length or 0) > self.connection.context.limits.body_prebuffer_bytes
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
            date=self.connection.context.http_date(),
            content_length=length,
            chunked=False,
            keep_alive=self._keep_alive,
        )
        self.state = _COMPLETE
        if not (send_body and body):
            body = b""
        self.bytes_sent += len(body)
        self._send_last(data, body)

    def _send_last(self, data: bytes, body: bytes) -> None:
        """Send the end of a response (plain sockets): whatever the client cannot
        take at once goes to send_final(), and to the reactor if the client is slow
        (see outbox.py). Same system calls as a blocking send when it can."""
        sock = self.connection.sock
        if self.is_tls:  # no MSG_DONTWAIT nor sendmsg on an SSLSocket
            parts: collections.deque[Part] = collections.deque([memoryview(data)])
            if body:
                parts.append(memoryview(body))
            self.connection.send_final(parts)
            return
        if len(body) <= SINGLE_SEND_MAX_BYTES:
            if body:
                data += body
            try:
                sent = sock.send(data, _MSG_DONTWAIT)
            except BlockingIOError:
                sent = 0
            if sent != len(data):
                self.connection.send_final(collections.deque([memoryview(data)[sent:]]))
            return
        # Gather write: head and body in one system call, without copying.
        try:
            sent = sock.sendmsg([data, body], (), _MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent != len(data) + len(body):
            parts = collections.deque()
            if sent < len(data):
                parts.append(memoryview(data)[sent:])
                sent = len(data)
            parts.append(memoryview(body)[sent - len(data) :])
            self.connection.send_final(parts)

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
            date=self.connection.context.http_date(),
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
        outbox = self.connection.outbox
        if outbox is not None:  # bytes beyond a complete body: keep them in order
            outbox.append(bytes(body))
            self.bytes_sent += len(data)
            return
        head = self._take_unsent_head()
        if self._completes_body(len(data)):
            self.bytes_sent += len(data)
            self._send_last(head, body)
            return
        if head and len(body) <= SINGLE_SEND_MAX_BYTES:
            self.connection.sock.sendall(head + body)
        else:
            if head:
                self.connection.sock.sendall(head)
            self.connection.sock.sendall(body)
        self.bytes_sent += len(data)

    def send_file(self, file: BinaryIO, offset: int, count: int) -> None:
        if self.state is not _STREAMING:
            raise RuntimeError("send_file() needs start_response() first")
        if count <= 0 or not self._send_body:
            return
        sock = self.connection.sock
        prefix = self._take_unsent_head()
        if self._chunked:
            prefix += b"%x\r\n" % count
        if self.is_tls:
            if self._completes_body(count):
                parts: collections.deque[Part] = collections.deque()
                if prefix:
                    parts.append(memoryview(prefix))
                parts.append(FileRange(file.fileno(), offset, count))
                self.connection.send_final(parts)
                self.bytes_sent += count
                return
            if prefix:
                sock.sendall(prefix)
            self._copy_file(file, offset, count)
        else:
            if prefix:
                # MSG_MORE: the kernel holds these bytes to fill the first segment
                # with file data, as nginx's tcp_nopush does.
                sock.sendall(prefix, _MSG_MORE)
            if self._completes_body(count):
                part = FileRange(file.fileno(), offset, count)
                self.connection.send_final(collections.deque([part]))
                self.bytes_sent += count
                return
            self._sendfile(file, offset, count)
        if self._chunked:
            sock.sendall(b"\r\n")
        self.bytes_sent += count

    def _sendfile(self, file: BinaryIO, offset: int, count: int) -> None:
        """Zero-copy with os.sendfile; SO_SNDTIMEO bounds each stalled call."""
        out_fd = self.connection.fd
        in_fd = file.fileno()
        while count > 0:
            try:
                sent = os.sendfile(out_fd, in_fd, offset, count)
            except BlockingIOError:
                raise TimeoutError("client stopped reading") from None
            if sent == 0:
                raise OSError("file ended before the promised length")
            offset += sent
            count -= sent

    def _copy_file(self, file: BinaryIO, offset: int, count: int) -> None:
        chunk_bytes = self.connection.context.limits.send_file_chunk_bytes
        sock = self.connection.sock
        file.seek(offset)
        while count > 0:
            data = file.read(min(chunk_bytes, count))
            if not data:
                raise OSError("file ended before the promised length")
            sock.sendall(data)
            count -= len(data)

    def end(self) -> None:
        if self.state is _STREAMING:
            data = self._take_unsent_head()
            if self._chunked and self._send_body:
                data += LAST_CHUNK
            if data:
                outbox = self.connection.outbox
                if outbox is not None:
                    outbox.append(data)
                else:
                    self.connection.sock.sendall(data)
            self.state = _COMPLETE

    def send_error(self, error: HTTPError) -> None:
        """A plain-text error response; the message is meant for the client."""
        self.send_response(
            error.status, [("Content-Type", "text/plain; charset=utf-8")], format_error_body(error)
        )

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
                    self.connection.sock.sendall(head)
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
        return self._body_complete or self.connection.drain_body()

    def log_access(self) -> None:
        """One access log line (see access_log.py) on ``barehttp.access``."""
        connection = self.connection
        log_access(
            self.head,
            self.client_address[0],
            self.status,
            self.bytes_sent,
            log_format=connection.context.access_log_format,
            duration_s=time.monotonic() - connection.request_started,
        )
