"""Connection: reads requests off one socket, runs the handler, keeps it alive.

A connection is owned by a worker thread while its client keeps talking (up to
``linger_s`` between requests), and parked in the reactor when the client goes
quiet, with no thread (see docs/architecture.md). States are in lifecycle.py,
sending in transport.py, parsing in request_reader.py, early bodies in gathering.py.
"""

from __future__ import annotations

import logging
import socket
import ssl

from barehttp.protocol.errors import HTTPError, RequestTimeout
from barehttp.protocol.events import Event, RequestHead
from barehttp.protocol.parser import ParseState
from barehttp.server.body_reader import needs_prebuffer
from barehttp.server.context import ServerContext
from barehttp.server.exchange import ServerExchange
from barehttp.server.gathering import Gathering
from barehttp.server.lifecycle import NEXT_STATES, ConnectionState, transition_error
from barehttp.server.plain_http import answer_if_plain_http
from barehttp.server.refusal import send_refusal
from barehttp.server.request_reader import RequestReader
from barehttp.server.transport import EAGAIN_ERRORS, Transport

logger = logging.getLogger("barehttp.server")
_PARSE_DONE = ParseState.DONE
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
        "context",
        "deadline",
        "fd",
        "gathering",
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
        self.gathering: Gathering | None = None  # the next request's body, before dispatch
        self.request_started = context.clock()  # the header timeout counts from here
        # The idle timeout counts from here: the connection's start or its last response.
        # Not from the last bytes, which may be empty lines (RFC 9112 §2.2) that are
        # ignored, not a request: "\r\n" every few seconds must not hold it open forever.
        self.idle_since = self.request_started

    def _enter(self, state: ConnectionState) -> None:  # the one place the life cycle moves
        if state not in NEXT_STATES[id(self.state)]:
            raise transition_error(self.state, state)
        self.state = state

    def fileno(self) -> int:
        return self.fd

    def resume(self) -> None:
        if self.gathering is not None and not self.is_tls:
            self._collect_in_reactor()
            return
        # A new request starts with these bytes; but a TLS handshake under way keeps
        # its start, or a hello trickled between parkings would never time out.
        if not self.reader.parser.is_mid_request and self.state is _READING_HEAD:
            self.request_started = self.context.clock()
        self.serve()  # on this worker thread, which took the ready connection

    @property
    def is_writing(self) -> bool:
        state = self.state
        return state is _WRITING or state is _WRITING_LAST

    def expire(self) -> None:
        if self.is_writing:  # the client stopped reading its response
            self.close()
        elif self.reader.parser.is_mid_request:
            # Through reject(): this runs on the sweep thread, which must not wait up to
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
            keep_alive = exchange.run(handler)
            if exchange.upgraded:  # hand-over: the WebSocket side owns the socket now
                return self._enter(ConnectionState.UPGRADED)
            if keep_alive is None:  # cut off mid-response
                self.close()
                return
            if self.transport.outbox is not None:  # a slow reader: the reactor sends the rest
                self._write_in_reactor(keep_alive)
                return
            if not keep_alive:
                self._close_after_response()
                return
            # Draining after a response that promised keep-alive: the client may be
            # sending its next request now, so that one is answered (with close).
            self._expect_next_request()
            if self._is_rushed() and self.reader.is_idle and not self.is_tls:
                self._park()  # a read now would find nothing: the client reads the answer
                return

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
            gathering = self.gathering
            if gathering is not None:
                if gathering.is_ready:
                    self.gathering = None
                    return gathering.release()
            elif events:
                event = events.popleft()
                if isinstance(event, RequestHead):
                    if parser.state is _PARSE_DONE or not needs_prebuffer(event, context_limits):
                        return event
                    try:
                        self._enter(_GATHERING_BODY)  # its body is still on the way
                        self.gathering = Gathering(event, self.transport, self.reader, self.context)
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
                if self.gathering is not None:
                    self.gathering.collect(parser.feed(data))
                    continue
                events.extend(parser.feed(data))
                if events:
                    continue
                # A client trickling bytes never lets recv() time out, so the header
                # timeout is also checked as bytes arrive (slowloris).
                now = self.context.clock()
                if parser.is_mid_request:
                    if now > self.request_started + context_limits.header_timeout_s:
                        raise RequestTimeout("request head not received in time")
                elif now > self.idle_since + context_limits.idle_timeout_s:
                    self.close()  # empty lines only, sent too fast for recv() to time out
                    return None
            except HTTPError as error:
                send_refusal(self.transport, self.context, self.client_address[0], error)
                self.close_lingering()
                return None
            except OSError:
                self.close()
                return None

    def _accept_events(self, new: list[Event]) -> bool:
        """Route parsed events to the body being gathered, or the queue; True if any."""
        if self.gathering is not None:
            self.gathering.collect(new)
        else:
            self.reader.events.extend(new)
        return bool(new)

    def _collect_in_reactor(self) -> None:
        """Read what the body's client sent, without waiting; serve once it is gathered."""
        gathering = self.gathering
        assert gathering is not None
        try:
            ready = gathering.read_available(self.transport)
        except OSError:  # the client left mid-body, or reset
            self.close()
            return
        if ready:
            self.serve()
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
        if self.state is _TLS_HELLO or self.state is _HANDSHAKE:
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
            if not transport.handshake(self.client_address[0]):
                self.close()
                return None
            self._enter(_READING_HEAD)
            self.request_started = self.context.clock()  # the first head's time starts
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
        return context.pool.is_crowded(context.open_connections)

    def _park(self) -> None:
        context = self.context
        limits = context.limits
        if self.gathering is not None:
            self.deadline = self.gathering.deadline
        elif self.reader.parser.is_mid_request or self.state is not _READING_HEAD:  # a hello
            self.deadline = self.request_started + limits.header_timeout_s
        elif not self.responses_sent:  # a first request has the head's time, as in nginx, Go
            self.deadline = self.request_started + limits.header_timeout_s
        else:
            self.deadline = self.idle_since + limits.idle_timeout_s
        if context.draining:  # a leaving server waits briefly for what is on its way
            self.deadline = min(self.deadline, context.clock() + limits.drain_keep_alive_s)
        context.reactor.park(self)

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
            self.transport.set_nonblocking()  # write_more() must never wait
        except OSError:
            self.close()
            return
        context.reactor.park_writer(self)

    def write_more(self) -> bool:
        """Send what the client makes room for, without waiting; True when all is sent."""
        transport = self.transport
        if transport.write_more():
            self.deadline = self.context.clock() + self.context.limits.write_timeout_s
        return not transport.has_unsent

    def write_finished(self) -> None:
        """The response is out: serve the next request (or park), or close."""
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
        self.resume()  # serves requests already pipelined behind this one, or parks
        self.context.pool.release()  # after resume(): a drain never sees zero between

    def reject(self, error: HTTPError) -> None:
        """Answer without a worker (queue full) and close."""
        try:
            self.transport.set_nonblocking()  # never let the caller's thread wait on this client
        except OSError:
            pass
        send_refusal(self.transport, self.context, self.client_address[0], error)
        self.close()

    def close_lingering(self) -> None:
        """Close after an error response without letting a reset destroy it."""
        if not self.is_tls:
            self.transport.drop_incoming(self.context.limits.lingering_close_s)
        self.close()

    def close(self) -> None:
        state = self.state
        if state is _CLOSED or state is ConnectionState.UPGRADED:  # closed by its WebSocket
            return
        self.state = _CLOSED  # from any state (see lifecycle.py)
        if self.gathering is not None:
            self.gathering.discard()
            self.gathering = None
        try:
            self.transport.close()
        finally:
            self.context.connection_closed(self.client_address[0])
            if state is _WRITING or state is _WRITING_LAST:  # a response in flight holds a slot
                self.context.pool.release()
