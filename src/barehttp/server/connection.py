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

import dataclasses
import logging
import socket
import ssl

from barehttp.protocol.errors import HTTPError, RequestTimeout, format_error_body
from barehttp.protocol.events import Event, RequestHead
from barehttp.protocol.parser import ParseState
from barehttp.protocol.writer import format_continue, format_head
from barehttp.server.access_log import log_refusal
from barehttp.server.body_reader import BodyCollector, needs_prebuffer
from barehttp.server.context import ServerContext
from barehttp.server.exchange import ServerExchange
from barehttp.server.lifecycle import WRITING_STATES, ConnectionState, check_transition
from barehttp.server.plain_http import answer_if_plain_http
from barehttp.server.request_reader import RequestReader
from barehttp.server.transport import EAGAIN_ERRORS, Transport

logger = logging.getLogger("barehttp.server")
_PARSE_DONE = ParseState.DONE
_PARSE_FAILED = ParseState.FAILED
_TLS_HELLO = ConnectionState.TLS_HELLO
_HANDSHAKE = ConnectionState.HANDSHAKE
_READING_HEAD = ConnectionState.READING_HEAD
_GATHERING_BODY = ConnectionState.GATHERING_BODY
_IN_HANDLER = ConnectionState.IN_HANDLER
_WRITING = ConnectionState.WRITING
_WRITING_LAST = ConnectionState.WRITING_LAST
_CLOSED = ConnectionState.CLOSED


class Connection:
    """One client connection; see the module docstring for its life cycle."""

    __slots__ = (
        "client_address",
        "collector",
        "context",
        "deadline",
        "fd",
        "idle_since",
        "is_tls",
        "reader",
        "request_started",
        "responses_sent",
        "server_address",
        "state",
        "transport",
    )

    def __init__(
        self,
        sock: socket.socket,
        client_address: tuple[str, int],
        server_address: tuple[str, int],
        context: ServerContext,
    ) -> None:
        self.transport = transport = Transport(sock, context.limits, context.clock)
        self.reader = RequestReader(transport, context.limits, context.clock)
        self.fd = transport.fd
        self.client_address = client_address
        self.server_address = server_address
        self.context = context
        self.is_tls = transport.is_tls
        # The TLS handshake runs in a worker, never in the accept loop, and parks
        # like a slow request head when the client is slow to send its hello.
        self.state = _TLS_HELLO if self.is_tls else _READING_HEAD  # see lifecycle.py
        self.responses_sent = 0  # after one, the client knows we answer
        self.deadline = 0.0
        # The body of the next request, gathered before dispatch (see body_reader.py).
        self.collector: BodyCollector | None = None
        self.request_started = context.clock()  # the header timeout counts from here
        # The idle timeout counts from here: the connection's start or its last response.
        # Not from the last bytes, which may be empty lines (RFC 9112 §2.2) that are
        # ignored, not a request: "\r\n" every few seconds must not hold it open forever.
        self.idle_since = self.request_started

    def _enter(self, state: ConnectionState) -> None:
        """The one place the life cycle moves (see lifecycle.py for the steps)."""
        check_transition(self.state, state)
        self.state = state

    # -- Parkable ------------------------------------------------------------

    def fileno(self) -> int:
        return self.fd

    def resume(self) -> None:
        if self.collector is not None and not self.is_tls:
            self._collect_in_reactor()
            return
        # A new request starts with these bytes; but a TLS handshake under way keeps
        # its start, or a hello trickled between parkings would never time out.
        if not self.reader.parser.is_mid_request and self.state is _READING_HEAD:
            self.request_started = self.context.clock()
        # Unbounded: this client is already connected and costs no more by waiting
        # its turn, and a burst of keep-alive requests should queue, not get 503s.
        self.context.pool.submit(self.serve, bounded=False)

    @property
    def is_writing(self) -> bool:
        return self.state in WRITING_STATES

    def expire(self) -> None:
        if self.state in WRITING_STATES:  # the client stopped reading its response
            self.close()
        elif self.reader.parser.is_mid_request:
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
            self._enter(_IN_HANDLER)
            exchange = ServerExchange(
                head,
                self.transport,
                self.reader,
                context,
                self.client_address,
                self.server_address,
                self.request_started,
            )
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
            if self.transport.outbox is not None:  # a slow reader: the reactor sends the rest
                self._write_in_reactor(keep_alive)
                return
            if not keep_alive:
                self._close_after_response()
                return
            # Draining after a response that promised keep-alive: the client may be
            # sending its next request now, so that one is answered (with close).
            self._expect_next_request()

    def _close_after_response(self) -> None:
        if self.reader.request_is_read:
            self.close()
        else:  # unread request bytes: a plain close() would reset the response away
            self.close_lingering()

    def _expect_next_request(self) -> None:
        self._enter(_READING_HEAD)
        self._start_next_request()

    def _start_next_request(self) -> None:
        self.responses_sent += 1
        self.reader.start_next()
        self.request_started = self.idle_since = self.context.clock()

    def _next_head(self) -> RequestHead | None:
        """The next request head, or None once the connection is parked or closed."""
        events = self.reader.events
        parser = self.reader.parser
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
            self.reader.events.extend(new)
        return bool(new)

    # -- bodies gathered before dispatch (body_reader.py) ----------------------

    def _start_collecting(self, head: RequestHead) -> None:
        if head.expects_continue:  # small enough to take: the server meets the expectation
            self.transport.sendall(format_continue(head.http_version))
            head = dataclasses.replace(head, expects_continue=False)
        self._enter(_GATHERING_BODY)
        self.collector = BodyCollector(head, self.context.limits, self.reader.pace())
        events = self.reader.events
        body_events = list(events)  # what came with the head: only this body's events
        events.clear()
        self._collect(body_events)

    def _collect(self, new: list[Event]) -> None:
        collector = self.collector
        assert collector is not None
        now = self.context.clock()
        before = collector.buffered_bytes
        collector.take(new, now)
        added = collector.buffered_bytes - before
        if added and not self.context.gather(added):
            collector.hand_over()  # all gathered bodies hold too much: stream this one
        elif self.reader.parser.state is _PARSE_FAILED:
            # The body broke a rule after these bytes: the handler gets what came, and
            # its next read raises the error, as when the bad bytes come later.
            collector.hand_over()
        if not collector.is_ready:
            collector.pace.check(now)

    def _collect_in_reactor(self) -> None:
        """Reactor thread: read what the body's client sent, without waiting; a worker
        gets the request only once its body is gathered."""
        try:
            data = self.transport.read_now()
        except OSError:
            self.close()
            return
        if data == b"":  # the client left mid-body
            self.close()
            return
        try:
            if data is not None:
                self._collect(self.reader.parser.feed(data))
        except HTTPError as error:
            self.reject(error)
            return
        collector = self.collector
        assert collector is not None
        if collector.is_ready:
            self.context.pool.submit(self.serve, bounded=False)
        else:
            self._park()

    def _receive(self) -> bytes | None:
        """Bytes from the client, or None after parking the connection."""
        transport = self.transport
        try:
            if self.is_tls:
                return self._receive_tls()
            if self._is_rushed():
                # Others wait for a worker: do not linger on this client.
                data = transport.read_now()
                if data is None:
                    raise BlockingIOError()
                return data
            return transport.read()  # waits <= linger_s
        except EAGAIN_ERRORS:
            self._park()
            return None

    def _receive_tls(self) -> bytes | None:
        transport = self.transport
        sock = transport.sock
        assert isinstance(sock, ssl.SSLSocket)
        if self.state is not _READING_HEAD:  # TLS_HELLO or HANDSHAKE
            if self.context.clock() > self.request_started + self.context.limits.header_timeout_s:
                self.close()  # a client that never finishes its hello
                return None
            if self.state is _TLS_HELLO:  # before the handshake reads a byte: plain HTTP?
                answered = answer_if_plain_http(sock, self.server_address, self.context)
                if answered is None:
                    raise ssl.SSLWantReadError()  # nothing sent yet: park, as the handshake would
                if answered:
                    self.close()
                    return None
                self._enter(_HANDSHAKE)
            try:
                transport.bounded_read(sock.do_handshake)
            except ssl.SSLError as error:
                if isinstance(error, ssl.SSLWantReadError):
                    raise
                logger.debug("TLS handshake failed from %s: %s", self.client_address[0], error)
                self.close()
                return None
            self._enter(_READING_HEAD)
            self.idle_since = self.context.clock()  # the first request may take idle_timeout_s
        # Decrypted bytes may wait inside the SSL object, where epoll cannot see
        # them: read those before ever parking.
        if self._is_rushed() and not transport.has_tls_bytes_now():
            raise ssl.SSLWantReadError()
        return transport.read()

    def _is_rushed(self) -> bool:
        """True when the next read must not wait: others need a worker, or we drain.

        While draining, a connection that was never answered still gets the
        linger wait: it was accepted just before the drain, its client is
        sending its first request now, and closing would fail that request.
        """
        context = self.context
        if context.draining:
            return self.responses_sent > 0
        return context.pool.has_waiting_jobs()

    def _park(self) -> None:
        context = self.context
        limits = context.limits
        if self.collector is not None:
            self.deadline = self.collector.pace.deadline
        elif self.reader.parser.is_mid_request or self.state is not _READING_HEAD:  # a hello too
            self.deadline = self.request_started + limits.header_timeout_s
        else:
            self.deadline = self.idle_since + limits.idle_timeout_s
        if context.draining:  # a leaving server waits briefly for what is on its way
            self.deadline = min(self.deadline, context.clock() + limits.drain_keep_alive_s)
        context.reactor.park(self)

    def _check_head_deadline(self) -> None:
        # A client trickling bytes never lets recv() time out, so the header
        # timeout is also checked as bytes arrive (slowloris).
        if self.context.clock() > self.request_started + self.context.limits.header_timeout_s:
            raise RequestTimeout("request head not received in time")

    def _is_idle_too_long(self) -> bool:
        return self.context.clock() > self.idle_since + self.context.limits.idle_timeout_s

    # -- writing and closing ---------------------------------------------------

    def _write_in_reactor(self, keep_alive: bool) -> None:
        """Hand the connection and its outbox to the reactor; this worker is free."""
        context = self.context
        if keep_alive:
            self._start_next_request()
        context.pool.hold()  # a response in flight: a drain waits for it
        self._enter(_WRITING if keep_alive else _WRITING_LAST)  # holds the slot until out
        self.deadline = context.clock() + context.limits.write_timeout_s
        try:
            self.transport.set_nonblocking()  # the reactor thread must never wait
        except OSError:
            self.close()
            return
        context.reactor.park_writer(self)

    def write_more(self) -> bool:
        """Reactor thread: send what the client makes room for; True when all is sent."""
        transport = self.transport
        if transport.write_more():
            self.deadline = self.context.clock() + self.context.limits.write_timeout_s
        return not transport.has_unsent

    def write_finished(self) -> None:
        """Reactor thread: the response is out; wait for the next request, or close."""
        self.transport.outbox = None
        if self.state is _WRITING_LAST:
            self.close()
            return
        try:
            self.transport.restore_blocking()
        except OSError:
            self.close()
            return
        # The idle timeout counts from the end of the response, however long it took.
        self.idle_since = self.context.clock()
        self._enter(_READING_HEAD)
        self.resume()  # also serves requests already pipelined behind this one
        self.context.pool.release()  # after resume() queued: a drain never sees zero between

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
            self.transport.sendall(head + body)
        except OSError:
            pass
        if self.context.access_log:  # refused before any handler: logged like any other
            log_refusal(self.client_address[0], error.status, len(body))

    def reject(self, error: HTTPError) -> None:
        """Answer without a worker (queue full) and close."""
        try:
            self.transport.set_nonblocking()  # never let the caller's thread wait on this client
        except OSError:
            pass
        self.send_error(error)
        self.close()

    def close_lingering(self) -> None:
        """Close after an error response without letting a reset destroy it.

        Closing a socket with unread request bytes makes the kernel send RST,
        and the client may discard our response with it (a 413 for a large
        upload, say). So we half-close, read and drop what is in flight for at
        most ``lingering_close_s``, then close (the "lingering close" of Apache and nginx).
        """
        if not self.is_tls:
            clock = self.context.clock
            limits = self.context.limits
            deadline = clock() + limits.lingering_close_s
            dropped = 0
            sock = self.transport.sock
            try:
                sock.shutdown(socket.SHUT_WR)
                # At most a largest body's worth of request bytes, then close anyway.
                limit = limits.max_body_bytes
                while dropped <= limit and clock() < deadline:
                    try:
                        data = sock.recv(limits.recv_bytes)  # each wait bounded by SO_RCVTIMEO
                    except EAGAIN_ERRORS:
                        continue  # quiet for linger_s: the window may not be over yet
                    if not data:
                        break
                    dropped += len(data)
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        state = self.state
        if state is _CLOSED:
            return
        self.state = _CLOSED  # from any state (see lifecycle.py)
        if self.collector is not None:
            self.context.gather(-self.collector.buffered_bytes)
            self.collector = None
        try:
            self.transport.close()
        finally:
            self.context.connection_closed(self.client_address[0])
            if state in WRITING_STATES:  # the response in flight held a pool slot
                self.context.pool.release()
