"""Connection: reads requests off one socket, runs the handler, keeps it alive.

A connection is always in one of two places: owned by a worker thread (reading,
handling, writing) or parked in the reactor (waiting for bytes). A worker keeps
a connection while its client keeps talking: after a response it waits up to
``linger_s`` for the next request (one blocking ``recv`` bounded by
``SO_RCVTIMEO``, no extra system calls), and parks the connection if nothing
comes, or at once when other connections are waiting for a worker. So a busy
client is served at the speed of a thread per connection, and 2,000 idle ones
hold no thread at all. A request body is gathered the same way before its
handler runs (see body_reader.py): a slow sender holds no worker either.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import select
import socket
import ssl
import time
from collections.abc import Callable
from typing import TypeVar

from barehttp.protocol.errors import (
    BadRequest,
    HTTPError,
    RequestTimeout,
    format_error_body,
)
from barehttp.protocol.events import BodyData, EndOfMessage, Event, RequestHead
from barehttp.protocol.parser import ParseState, RequestParser
from barehttp.protocol.writer import format_continue, format_head
from barehttp.server.access_log import log_refusal
from barehttp.server.body_reader import BodyCollector, BodyPace, needs_prebuffer
from barehttp.server.context import ServerContext
from barehttp.server.exchange import ServerExchange
from barehttp.server.outbox import Outbox, Part
from barehttp.server.plain_http import answer_if_plain_http

logger = logging.getLogger("barehttp.server")
_T = TypeVar("_T")

# What a recv() bounded by SO_RCVTIMEO raises when the time is up (plain or TLS).
_EAGAIN_ERRORS = (BlockingIOError, TimeoutError, ssl.SSLWantReadError)
_PARSE_DONE = ParseState.DONE


class Connection:
    """One client connection; see the module docstring for its life cycle."""

    __slots__ = (
        "body_pace",
        "client_address",
        "close_after_write",
        "collector",
        "context",
        "deadline",
        "events",
        "fd",
        "has_served",
        "holds_pool_slot",
        "idle_since",
        "is_closed",
        "is_tls",
        "needs_handshake",
        "needs_hello_check",
        "outbox",
        "parser",
        "request_started",
        "server_address",
        "sock",
    )

    def __init__(
        self,
        sock: socket.socket,
        client_address: tuple[str, int],
        server_address: tuple[str, int],
        context: ServerContext,
    ) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.client_address = client_address
        self.server_address = server_address
        self.context = context
        self.parser = RequestParser(context.limits)
        self.events: collections.deque[Event] = collections.deque()
        self.is_tls = isinstance(sock, ssl.SSLSocket)
        # The TLS handshake runs in a worker, never in the accept loop, and parks
        # like a slow request head when the client is slow to send its hello.
        self.needs_handshake = self.is_tls
        self.needs_hello_check = self.is_tls  # plain HTTP to this port? see plain_http.py
        if self.is_tls:
            sock.settimeout(context.limits.write_timeout_s)
        self.is_closed = False
        # The unsent end of a response, written by the reactor (see outbox.py); while
        # it is there, the connection holds a pool slot so that a drain waits for it.
        self.outbox: Outbox | None = None
        self.close_after_write = False
        self.holds_pool_slot = False
        self.has_served = False  # a response went out: the client knows we answer
        self.deadline = 0.0
        self.body_pace: BodyPace | None = None  # set when this request's body is first waited for
        # The body of the next request, gathered before dispatch (see body_reader.py).
        self.collector: BodyCollector | None = None
        self.request_started = time.monotonic()  # the header timeout counts from here
        # The idle timeout counts from here: the connection's start or its last response.
        # Not from the last bytes, which may be empty lines (RFC 9112 §2.2) that are
        # ignored, not a request: "\r\n" every few seconds must not hold it open forever.
        self.idle_since = self.request_started

    # -- Parkable ------------------------------------------------------------

    def fileno(self) -> int:
        return self.fd

    def resume(self) -> None:
        if self.collector is not None and not self.is_tls:
            self._collect_in_reactor()
            return
        # A new request starts with these bytes; but a TLS handshake under way keeps
        # its start, or a hello trickled between parkings would never time out.
        if not self.parser.is_mid_request and not self.needs_handshake:
            self.request_started = time.monotonic()
        # Unbounded: this client is already connected and costs no more by waiting
        # its turn, and a burst of keep-alive requests should queue, not get 503s.
        self.context.pool.submit(self.serve, bounded=False)

    @property
    def is_writing(self) -> bool:
        return self.outbox is not None

    def expire(self) -> None:
        if self.outbox is not None:  # the client stopped reading its response
            self.close()
        elif self.parser.is_mid_request:
            # Through reject(): this runs on the reactor thread, which must not wait up to
            # write_timeout_s on a client whose receive window is shut (all parked
            # connections would stall behind it).
            self.reject(RequestTimeout("request not received in time"))
        else:
            self.close()

    # -- worker side ----------------------------------------------------------

    def serve(self) -> None:
        """Serve requests until the client pauses (park), leaves or must be closed."""
        try:
            self._serve_requests()
        except Exception:
            logger.exception("error on connection from %s", self.client_address[0])
            self.close()

    def _serve_requests(self) -> None:
        context = self.context
        handler = context.handler
        while True:
            head = self._next_head()
            if head is None:
                return
            exchange = ServerExchange(self, head)
            try:
                handler(exchange)
            except HTTPError as error:
                if exchange.headers_sent and not exchange.discard_unsent_head():
                    self.close()
                    return
                exchange.send_error(error)
            except OSError:  # the client went away mid-response
                self.close()
                return
            except BaseException:  # SystemExit too: in a worker it would only end the thread
                logger.exception("handler failed for %s %s", head.method, head.path)
                # Too late to change a response whose head went out: cut it off.
                if exchange.headers_sent and not exchange.discard_unsent_head():
                    self.close()
                    return
                exchange.send_error(HTTPError("Internal Server Error"))
            try:
                keep_alive = exchange.finish()
            except OSError:
                keep_alive = False
            if context.access_log:
                exchange.log_access()
            if self.outbox is not None:  # a slow reader: the reactor sends the rest
                self._write_in_reactor(keep_alive)
                return
            if not keep_alive:
                self._close_after_response()
                return
            # Draining after a response that promised keep-alive: the client may be
            # sending its next request now, so that one is answered (with close).
            self._expect_next_request()

    def _close_after_response(self) -> None:
        if self.parser.state is _PARSE_DONE:
            self.close()
        else:  # unread request bytes: a plain close() would reset the response away
            self.close_lingering()

    def _expect_next_request(self) -> None:
        self.has_served = True
        self.parser.start_next()
        self.request_started = self.idle_since = time.monotonic()
        self.body_pace = None

    def _next_head(self) -> RequestHead | None:
        """The next request head, or None once the connection is parked or closed."""
        events = self.events
        parser = self.parser
        context_limits = self.context.limits
        while True:
            collector = self.collector
            if collector is not None:
                if collector.is_ready:
                    self.collector = None
                    self.context.gather(-collector.buffered_bytes)
                    events.extend(collector.release())
                    return collector.head
            elif events:
                event = events.popleft()
                if isinstance(event, RequestHead):
                    if parser.state is _PARSE_DONE or not needs_prebuffer(event, context_limits):
                        return event
                    try:
                        self._start_collecting(event)  # its body is still on the way
                    except OSError:
                        self.close()
                        return None
                    continue
                continue  # leftovers of a body the handler did not read
            try:
                # Pipelined bytes from the last read first.
                if parser.buffered_bytes and self._accept_events(parser.feed(b"")):
                    continue
                data = self._receive()
                if data is None:
                    return None
                if not data:  # the client closed its side
                    self.close()
                    return None
                if self.collector is not None:
                    self._collect(parser.feed(data))
                    continue
                events.extend(parser.feed(data))
                if not events and parser.is_mid_request:
                    self._check_head_deadline()
                elif not events and self._is_idle_too_long():
                    self.close()  # empty lines only, sent too fast for recv() to time out
                    return None
            except HTTPError as error:
                self.send_error(error)
                self.close_lingering()
                return None
            except OSError:
                self.close()
                return None

    def _accept_events(self, new: list[Event]) -> bool:
        """Route parsed events to the body being gathered, or the queue; True if any."""
        if self.collector is not None:
            self._collect(new)
        else:
            self.events.extend(new)
        return bool(new)

    # -- bodies gathered before dispatch (body_reader.py) ----------------------

    def _start_collecting(self, head: RequestHead) -> None:
        if head.expects_continue:  # small enough to take: the server meets the expectation
            self.sock.sendall(format_continue(head.http_version))
            head = dataclasses.replace(head, expects_continue=False)
        self.collector = BodyCollector(head, self.context.limits, self._body_pace())
        body_events = list(self.events)  # what came with the head: only this body's events
        self.events.clear()
        self._collect(body_events)

    def _collect(self, new: list[Event]) -> None:
        collector = self.collector
        assert collector is not None
        now = time.monotonic()
        before = collector.buffered_bytes
        collector.take(new, now)
        added = collector.buffered_bytes - before
        if added and not self.context.gather(added):
            collector.hand_over()  # all gathered bodies hold too much: stream this one
        if self.parser.state is ParseState.FAILED:
            # The bytes after these broke a rule: nothing more will come for this body.
            # The handler runs and meets the error when it reads on (receive_body_bytes),
            # however the bytes were split.
            collector.hand_over()
        if not collector.is_ready:
            collector.pace.check(now)

    def _collect_in_reactor(self) -> None:
        """Reactor thread: read what the body's client sent, without waiting; a worker
        gets the request only once its body is gathered."""
        try:
            data = self.sock.recv(self.context.limits.recv_bytes, socket.MSG_DONTWAIT)
        except BlockingIOError:
            data = None
        except OSError:
            self.close()
            return
        if data == b"":  # the client left mid-body
            self.close()
            return
        try:
            if data is not None:
                self._collect(self.parser.feed(data))
        except HTTPError:
            # A broken body: the handler meets the error when it reads the body, as
            # when the error comes after the body's first bytes (see _collect).
            assert self.collector is not None
            self.collector.hand_over()
        collector = self.collector
        assert collector is not None
        if collector.is_ready:
            self.context.pool.submit(self.serve, bounded=False)
        else:
            self._park()

    def _body_pace(self) -> BodyPace:
        pace = self.body_pace
        if pace is None:
            pace = self.body_pace = BodyPace(self.context.limits, time.monotonic())
        return pace

    def _receive(self) -> bytes | None:
        """Bytes from the client, or None after parking the connection."""
        context = self.context
        sock = self.sock
        try:
            if self.is_tls:
                return self._receive_tls()
            if self._is_rushed():
                # Others wait for a worker: do not linger on this client.
                return sock.recv(context.limits.recv_bytes, socket.MSG_DONTWAIT)
            return sock.recv(context.limits.recv_bytes)  # waits <= linger_s
        except _EAGAIN_ERRORS:
            self._park()
            return None

    def _receive_tls(self) -> bytes | None:
        sock = self.sock
        assert isinstance(sock, ssl.SSLSocket)
        if self.needs_handshake:
            if time.monotonic() > self.request_started + self.context.limits.header_timeout_s:
                self.close()  # a client that never finishes its hello
                return None
            if self.needs_hello_check:  # before the handshake reads a byte: plain HTTP?
                answered = answer_if_plain_http(sock, self.server_address, self.context)
                if answered is None:
                    raise ssl.SSLWantReadError()  # nothing sent yet: park, as the handshake would
                self.needs_hello_check = False
                if answered:
                    self.close()
                    return None
            try:
                self._tls_bounded_read(sock.do_handshake)
            except ssl.SSLError as error:
                if isinstance(error, ssl.SSLWantReadError):
                    raise
                logger.debug("TLS handshake failed from %s: %s", self.client_address[0], error)
                self.close()
                return None
            self.needs_handshake = False
            self.idle_since = time.monotonic()  # the first request may take idle_timeout_s
        context = self.context
        # Decrypted bytes may wait inside the SSL object, where epoll cannot see
        # them: read those before ever parking.
        if not sock.pending() and self._is_rushed():
            poller = select.poll()  # poll, not select: fds past 1024 are normal here
            poller.register(self.fd, select.POLLIN)
            if not poller.poll(0):
                raise ssl.SSLWantReadError()
        return self._tls_bounded_read(lambda: sock.recv(context.limits.recv_bytes))

    def _is_rushed(self) -> bool:
        """True when the next read must not wait: others need a worker, or we drain.

        While draining, a connection that was never answered still gets the
        linger wait: it was accepted just before the drain, its client is
        sending its first request now, and closing would fail that request.
        """
        context = self.context
        if context.draining:
            return self.has_served
        return context.pool.has_waiting_jobs()

    def _tls_bounded_read(self, operation: Callable[[], _T]) -> _T:
        """Run a TLS read with the linger timeout, then restore the write timeout.

        SO_RCVTIMEO does not bound reads on an SSLSocket (the ssl module retries
        a blocking socket's EAGAIN forever), so TLS sockets use Python timeouts:
        short for reads, so idle clients get parked; long for writes, since the
        timeout of a TLS send is per record and a slow reader is not a dead one.
        """
        limits = self.context.limits
        self.sock.settimeout(limits.linger_s)
        try:
            return operation()
        finally:
            self.sock.settimeout(limits.write_timeout_s)

    def _park(self) -> None:
        context = self.context
        limits = context.limits
        if self.collector is not None:
            self.deadline = self.collector.pace.deadline
        elif self.parser.is_mid_request or self.needs_handshake:  # a hello is like a head
            self.deadline = self.request_started + limits.header_timeout_s
        else:
            self.deadline = self.idle_since + limits.idle_timeout_s
        if context.draining:  # a leaving server waits briefly for what is on its way
            self.deadline = min(self.deadline, time.monotonic() + limits.drain_keep_alive_s)
        context.reactor.park(self)

    def _check_head_deadline(self) -> None:
        # A client trickling bytes never lets recv() time out, so the header
        # timeout is also checked as bytes arrive (slowloris).
        if time.monotonic() > self.request_started + self.context.limits.header_timeout_s:
            raise RequestTimeout("request head not received in time")

    def _is_idle_too_long(self) -> bool:
        return time.monotonic() > self.idle_since + self.context.limits.idle_timeout_s

    def receive_body_bytes(self, until: float = math.inf) -> list[Event]:
        """Block for more body bytes and parse them, at the body's pace (see
        body_reader.py) and until the monotonic time ``until`` at the latest."""
        limits = self.context.limits
        pace = self._body_pace()
        if self.parser.state is ParseState.FAILED:
            # The read that brought this body's first bytes also broke a rule after
            # them: raise it now, as if it had come in the next read.
            self.parser.feed(b"")
        while True:
            try:
                if self.is_tls:
                    data = self._tls_bounded_read(lambda: self.sock.recv(limits.recv_bytes))
                else:
                    data = self.sock.recv(limits.recv_bytes)
            except _EAGAIN_ERRORS:
                now = time.monotonic()
                if now > until:
                    raise RequestTimeout("request body not received in time") from None
                pace.check(now)
                continue
            if not data:
                raise BadRequest("client closed the connection before the body ended")
            pace.received(len(data), time.monotonic())
            events = self.parser.feed(data)
            if events:
                return events

    def drain_body(self) -> bool:
        """Read and drop the rest of an unread request body; False if it is too big
        or does not come within ``drain_timeout_s`` (the caller then closes): a
        worker never waits long on a body nobody wants."""
        until = time.monotonic() + self.context.limits.drain_timeout_s
        dropped = 0
        while True:
            while self.events:
                event = self.events.popleft()
                if isinstance(event, EndOfMessage):
                    return True
                if isinstance(event, BodyData):
                    dropped += len(event.data)
                    if dropped > self.context.limits.body_prebuffer_bytes:
                        return False
            if time.monotonic() > until:
                return False
            try:
                self.events.extend(self.receive_body_bytes(until))
            except (HTTPError, OSError):
                return False

    # -- writing and closing ---------------------------------------------------

    def send_final(self, parts: collections.deque[Part]) -> None:
        """Send a response's last bytes; what the client has not taken after
        ``linger_s`` of a full socket buffer goes to ``self.outbox``.

        The socket is non-blocking only inside this call: the request body may
        still be read (drained) after it, with the usual bounded blocking reads.
        """
        outbox = Outbox(parts)
        sock = self.sock
        deadline = 0.0
        poller: select.poll | None = None
        sock.setblocking(False)
        try:
            while True:
                outbox.send_available(sock)
                if outbox.is_empty:
                    return
                now = time.monotonic()
                if not deadline:
                    deadline = now + self.context.limits.linger_s
                    poller = select.poll()
                    poller.register(self.fd, select.POLLOUT)
                assert poller is not None
                if now >= deadline or not poller.poll(math.ceil((deadline - now) * 1000)):
                    outbox.keep_files_open()
                    self.outbox = outbox
                    return
        finally:
            self._restore_blocking()

    def _write_in_reactor(self, keep_alive: bool) -> None:
        """Hand the connection and its outbox to the reactor; this worker is free."""
        context = self.context
        self.close_after_write = not keep_alive
        if keep_alive:
            self._expect_next_request()
        context.pool.hold()  # a response in flight: a drain waits for it
        self.holds_pool_slot = True
        self.deadline = time.monotonic() + context.limits.write_timeout_s
        try:
            self.sock.setblocking(False)  # the reactor thread must never wait
        except OSError:
            self.close()
            return
        context.reactor.park_writer(self)

    def write_more(self) -> bool:
        """Reactor thread: send what the client makes room for; True when all is sent."""
        outbox = self.outbox
        assert outbox is not None
        if outbox.send_available(self.sock):
            self.deadline = time.monotonic() + self.context.limits.write_timeout_s
        return outbox.is_empty

    def write_finished(self) -> None:
        """Reactor thread: the response is out; wait for the next request, or close."""
        self.outbox = None
        if self.close_after_write:
            self.close()
            return
        try:
            self._restore_blocking()
        except OSError:
            self.close()
            return
        # The idle timeout counts from the end of the response, however long it took.
        self.idle_since = time.monotonic()
        self.resume()  # also serves requests already pipelined behind this one
        self._release_pool_slot()  # after resume() queued: a drain never sees zero between

    def _restore_blocking(self) -> None:
        """Back to bounded blocking calls: SO_RCVTIMEO/SO_SNDTIMEO on a plain socket,
        a Python timeout on a TLS one (see _tls_bounded_read)."""
        if self.is_tls:
            self.sock.settimeout(self.context.limits.write_timeout_s)
        else:
            self.sock.setblocking(True)

    def _release_pool_slot(self) -> None:
        if self.holds_pool_slot:
            self.holds_pool_slot = False
            self.context.pool.release()

    def send_error(self, error: HTTPError) -> None:
        """Best-effort error response before closing (framing may be broken)."""
        body = format_error_body(error)
        head = format_head(
            "HTTP/1.1",
            error.status,
            [("Content-Type", "text/plain; charset=utf-8")],
            date=self.context.http_date(),
            content_length=len(body),
            chunked=False,
            keep_alive=False,
        )
        try:
            self.sock.sendall(head + body)
        except OSError:
            pass
        if self.context.access_log:  # refused before any handler: logged like any other
            log_refusal(self.client_address[0], error.status, len(body))

    def reject(self, error: HTTPError) -> None:
        """Answer without a worker (queue full) and close."""
        try:
            self.sock.setblocking(False)  # never let the caller's thread wait on this client
        except OSError:
            pass
        self.send_error(error)
        self.close()

    def close_lingering(self) -> None:
        """Close after an error response without letting a reset destroy it.

        Closing a socket with unread request bytes makes the kernel send RST,
        and the client may discard our response with it (a 413 for a large
        upload, say). So we half-close, read and drop what is in flight for at
        most ``linger_s``, then close (the "lingering close" of Apache and nginx).
        """
        if not self.is_tls:
            deadline = time.monotonic() + self.context.limits.linger_s
            dropped = 0
            try:
                self.sock.shutdown(socket.SHUT_WR)
                # At most a largest body's worth of request bytes, then close anyway.
                limit = self.context.limits.max_body_bytes
                while dropped <= limit and time.monotonic() < deadline:
                    data = self.sock.recv(65_536)  # each wait bounded by SO_RCVTIMEO
                    if not data:
                        break
                    dropped += len(data)
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        if self.is_closed:
            return
        self.is_closed = True
        if self.collector is not None:
            self.context.gather(-self.collector.buffered_bytes)
            self.collector = None
        try:
            if self.outbox is not None:
                self.outbox.close()
                self.outbox = None
            self.sock.close()
        finally:
            self.context.connection_closed(self.client_address[0])
            self._release_pool_slot()
