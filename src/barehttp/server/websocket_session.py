"""WebSocketSession: one upgraded connection, usable from any thread, owned by the hub.

The hub's epoll thread (websocket_hub.py) reads the non-blocking socket into the
sans-IO ``WebSocketConnection``. A handler may wait in :meth:`receive` (blocking
mode), or :meth:`park` callbacks and return: no thread is held, and each message
runs the callback on the pool, one at a time, in order. ``send_*`` work from any
thread and never wait on the peer: frames go to an outbox sent as the peer reads,
bounded by ``max_queued_bytes``; a peer that stops reading is dropped after
``write_timeout_s``. States: ``SessionState``: CLOSING waits ``close_timeout_s`` for
the peer's Close (RFC 6455 §7.1.2), FLUSHING sends the last frames, then TCP closes,
the server first (§7.1.1). One lock guards all (an SSL object is single-threaded)."""

from __future__ import annotations

import collections
import logging
import socket
import ssl
import threading
from collections.abc import Callable

from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_errors import CloseCode
from barehttp.protocol.websocket_events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    TextMessage,
)
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.server.outbox import Outbox
from barehttp.server.websocket_owner import (
    CloseCallback,
    Message,
    MessageCallback,
    SessionOwner,
    SessionState,
    SessionTimes,
    WebSocketClosed,
)

logger = logging.getLogger("barehttp.server")

_RECV_BYTES = 65_536
_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class _Closed:
    """The close notice in the callback queue (after every message before it)."""


_CLOSED_NOTICE = _Closed()


class WebSocketSession:
    """One WebSocket after the opening handshake; see the module docstring."""

    def __init__(
        self,
        sock: socket.socket,
        connection: WebSocketConnection,
        limits: WebSocketLimits,
        times: SessionTimes,
        owner: SessionOwner[WebSocketSession],
        release: Callable[[], None],
    ) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.is_tls = isinstance(sock, ssl.SSLSocket)
        self._connection = connection
        self._limits = limits
        self._times = times
        self._clock = times.clock
        self._owner = owner
        self._release = release  # closes the socket and uncounts the connection
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.state = SessionState.OPEN
        self.close_code = int(CloseCode.ABNORMAL_CLOSURE)
        self.close_reason = ""
        self._inbox: collections.deque[Message] = collections.deque()  # blocking mode
        self._on_message: MessageCallback | None = None
        self._on_close: CloseCallback | None = None
        self._parked = False  # callbacks set: messages go to the pool, not the inbox
        self._pending: collections.deque[Message | _Closed] = collections.deque()
        self._delivering = False  # a pool job is running the callbacks
        self._outbox = Outbox(collections.deque())
        self._queued_bytes = 0
        self._write_watched = False  # EPOLLOUT asked of the hub (bytes wait for room)
        self._read_paused = False
        now = self._clock()
        self._last_heard = now
        self._ping_sent_at: float | None = None
        self._close_deadline = 0.0
        self._write_deadline = 0.0
        self._quiet_until = 0.0  # check_time has nothing to do before this (read lock-free)

    # -- for the hub ---------------------------------------------------------------

    def _has_tls_bytes(self) -> bool:
        """Decrypted bytes waiting inside the SSL object, where epoll cannot see them."""
        sock = self.sock
        return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0

    @property
    def wants_read(self) -> bool:
        return self.state is not SessionState.CLOSED and not self._read_paused

    @property
    def wants_write(self) -> bool:
        return not self._outbox.is_empty

    def on_readable(self) -> None:
        """Hub thread: read what arrived, answer control frames, deliver messages."""
        with self._lock:
            if self.state is SessionState.CLOSED or self._read_paused:
                return
            chunks: list[bytes] = []
            at_end = False
            try:
                while True:
                    data = self.sock.recv(_RECV_BYTES)
                    if not data:  # TCP closed by the peer (after its Close, or without one)
                        at_end = True
                        break
                    chunks.append(data)
                    # Decrypted bytes may wait inside the SSL object, unseen by epoll.
                    if not self._has_tls_bytes():
                        break
            except _WOULD_BLOCK:
                pass
            except OSError:
                self._drop_locked(CloseCode.ABNORMAL_CLOSURE, "connection lost")
                return
            if chunks:
                self._receive_locked(b"".join(chunks))
            if at_end:
                self._drop_locked(CloseCode.ABNORMAL_CLOSURE, "connection lost")

    def receive_early(self, data: bytes) -> None:
        """Frames the client sent right behind its opening handshake, before any read."""
        with self._lock:
            self._receive_locked(data)

    def _receive_locked(self, data: bytes) -> None:
        self._last_heard = self._clock()
        self._ping_sent_at = None  # any frame from the peer shows it is alive
        connection = self._connection
        events = connection.receive_data(data)
        for event in events:
            if isinstance(event, TextMessage | BinaryMessage):
                if self.state is SessionState.OPEN:  # after our Close: dropped (§7.1.2)
                    self._deliver_locked(event.data)
            elif isinstance(event, CloseReceived | ConnectionFailed):
                if self.state is SessionState.OPEN or isinstance(event, ConnectionFailed):
                    self.close_code, self.close_reason = event.code, event.reason
                self._enter_flushing_locked()
        self._send_locked(connection.data_to_send())  # Pongs, Close replies

    def on_writable(self) -> None:
        """Hub thread: the socket has room; send more of the outbox."""
        with self._lock:
            self._flush_locked()

    def check_time(self, now: float) -> None:
        """Hub thread, every sweep: ping a quiet peer, drop a dead or stuck one."""
        if now < self._quiet_until:  # an idle peer: 10,000 of them cost no lock each sweep
            return
        with self._lock:
            state = self.state
            limits = self._limits
            if state is SessionState.CLOSED:
                return
            if not self._outbox.is_empty and now >= self._write_deadline:
                self._drop_locked(CloseCode.ABNORMAL_CLOSURE, "peer stopped reading")
                return
            if state is not SessionState.OPEN:
                if now >= self._close_deadline:  # §7.1.1: no Close back in time: drop TCP
                    self._release_locked()
                return
            if self._read_paused:  # the application is behind, not the peer: no pings
                self._last_heard, self._ping_sent_at = now, None
                return
            if self._ping_sent_at is None:
                if now - self._last_heard >= limits.ping_interval_s:  # RFC 6455 §5.5.2
                    self._connection.send_ping()
                    self._ping_sent_at = now
                    self._send_locked(self._connection.data_to_send())
                elif self._outbox.is_empty:  # no write deadline: next due is the ping
                    self._quiet_until = self._last_heard + limits.ping_interval_s
            elif now - self._ping_sent_at >= limits.ping_timeout_s:
                self._fail_locked(CloseCode.INTERNAL_ERROR, "ping timeout")

    # -- for the application (any thread) ---------------------------------------------

    def send_text(self, text: str) -> None:
        with self._lock:
            self._check_open_locked()
            self._connection.send_text(text)
            self._send_locked(self._connection.data_to_send())
            self._raise_if_dropped_locked()

    def send_bytes(self, data: bytes) -> None:
        with self._lock:
            self._check_open_locked()
            self._connection.send_binary(data)
            self._send_locked(self._connection.data_to_send())
            self._raise_if_dropped_locked()

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Send our Close (if still open); TCP closes on the peer's Close or after
        ``close_timeout_s``. Raises ValueError for a code that may not be sent."""
        with self._lock:
            if self.state is not SessionState.OPEN:
                return
            self._connection.send_close(code, reason)
            self.close_code, self.close_reason = int(code), reason
            self.state = SessionState.CLOSING
            self._close_deadline = self._clock() + self._limits.close_timeout_s
            self._quiet_until = 0.0
            self._changed.notify_all()
            self._send_locked(self._connection.data_to_send())

    def receive(self) -> Message:
        """The next message, waiting for it (blocking mode); WebSocketClosed once closed."""
        with self._changed:
            if self._parked:
                raise RuntimeError("receive() after on_message(): messages go to the callback")
            while not self._inbox:
                if self.state is not SessionState.OPEN:
                    raise WebSocketClosed(self.close_code, self.close_reason)
                self._changed.wait()
            message = self._inbox.popleft()
            self._resume_reading_locked(len(self._inbox))
            return message

    def park(self, on_message: MessageCallback | None, on_close: CloseCallback | None) -> None:
        """Deliver messages (and the close) to callbacks on the pool from now on."""
        with self._lock:
            self._on_message = on_message
            self._on_close = on_close
            if not self._parked:
                self._parked = True
                self._pending.extend(self._inbox)  # taken in order, before anything newer
                self._inbox.clear()
                if self.state is SessionState.CLOSED:
                    self._pending.append(_CLOSED_NOTICE)
                self._resume_reading_locked(len(self._pending))
            self._start_delivery_locked()  # also a close notice that waited for on_close

    @property
    def is_open(self) -> bool:
        return self.state is SessionState.OPEN

    def abort(self) -> None:
        """Close TCP now, sending nothing more (1006 to the application)."""
        with self._lock:
            self._drop_locked(CloseCode.ABNORMAL_CLOSURE, "connection dropped")

    # -- inside, with the lock held ------------------------------------------------------

    def _check_open_locked(self) -> None:
        if self.state is not SessionState.OPEN:
            raise WebSocketClosed(self.close_code, self.close_reason)

    def _raise_if_dropped_locked(self) -> None:
        if self.state is SessionState.CLOSED:
            raise WebSocketClosed(self.close_code, self.close_reason)

    def _deliver_locked(self, message: Message) -> None:
        queue: collections.deque[Message] | collections.deque[Message | _Closed]
        if self._parked:
            queue = self._pending
            queue.append(message)
            self._start_delivery_locked()
        else:
            queue = self._inbox
            queue.append(message)
            self._changed.notify_all()
        if len(queue) >= self._limits.max_queued_messages and not self._read_paused:
            self._read_paused = True  # TCP back-pressure until the application catches up
            self._quiet_until = 0.0  # no pings while paused: check_time says so each sweep
            self._owner.rearm(self)

    def _resume_reading_locked(self, queued: int) -> None:
        if self._read_paused and queued < self._limits.max_queued_messages:
            self._read_paused = False
            if self.state is not SessionState.CLOSED:
                self._owner.rearm(self)
                if self._has_tls_bytes():
                    self._owner.read_soon(self)

    def _start_delivery_locked(self) -> None:
        if not self._delivering and self._pending:
            self._delivering = True
            self._owner.dispatch(self._deliver_pending)

    def _deliver_pending(self) -> None:
        """Pool thread: run the callbacks for what is pending, one at a time, in order."""
        while True:
            with self._lock:
                pending = self._pending  # the close notice waits for on_close (see park())
                if not pending or (pending[0] is _CLOSED_NOTICE and self._on_close is None):
                    self._delivering = False
                    return
                item = pending.popleft()
                self._resume_reading_locked(len(self._pending))
                on_message, on_close = self._on_message, self._on_close
                code, reason = self.close_code, self.close_reason
            try:
                if isinstance(item, _Closed):
                    if on_close is not None:
                        on_close(code, reason)
                elif on_message is not None:
                    on_message(item)
            except WebSocketClosed:
                pass  # a send raced the close: the close notice follows
            except Exception:
                logger.exception("WebSocket callback failed")
                with self._lock:
                    self._fail_locked(CloseCode.INTERNAL_ERROR, "")

    def _fail_locked(self, code: int, reason: str) -> None:
        """Send a Close with ``code`` and close TCP once it is out (no reply awaited)."""
        if self.state is SessionState.OPEN:
            self._connection.send_close(code, reason)
            self.close_code, self.close_reason = int(code), reason
            self._enter_flushing_locked()
            self._send_locked(self._connection.data_to_send())
        elif self.state is SessionState.CLOSING:
            self._enter_flushing_locked()
            self._flush_locked()

    def _enter_flushing_locked(self) -> None:
        if self.state is SessionState.OPEN or self.state is SessionState.CLOSING:
            self.state = SessionState.FLUSHING
            # The last frames get the close timeout to leave, at most.
            self._close_deadline = self._clock() + self._limits.close_timeout_s
            self._quiet_until = 0.0
            self._changed.notify_all()

    def _send_locked(self, data: bytes) -> None:
        if self.state is SessionState.CLOSED:
            return
        if data:
            if self._queued_bytes + len(data) > self._limits.max_queued_bytes:
                # The peer does not read what it is sent (or pings without reading):
                # memory would grow without bound. 1006: no Close can get through.
                self._drop_locked(CloseCode.ABNORMAL_CLOSURE, "peer not reading")
                return
            if self._outbox.is_empty:
                self._write_deadline = self._clock() + self._times.write_timeout_s
                self._quiet_until = 0.0  # check_time watches the write deadline
            self._outbox.append(data)
            self._queued_bytes += len(data)
        self._flush_locked()

    def _flush_locked(self) -> None:
        if self.state is SessionState.CLOSED:
            return
        if not self._outbox.is_empty:
            try:
                sent = self._outbox.send_available(self.sock)
            except OSError:
                self._drop_locked(CloseCode.ABNORMAL_CLOSURE, "connection lost")
                return
            if sent:
                self._queued_bytes -= sent
                self._write_deadline = self._clock() + self._times.write_timeout_s
        if self._outbox.is_empty:
            self._queued_bytes = 0
            if self.state is SessionState.FLUSHING:
                self._release_locked()
                return
        if self._write_watched is self._outbox.is_empty:
            self._write_watched = not self._write_watched
            self._owner.rearm(self)  # EPOLLOUT on while bytes wait, off once all are out

    def _drop_locked(self, code: int, reason: str) -> None:
        """Close TCP now, with nothing more sent."""
        if self.state is SessionState.OPEN:
            self.close_code, self.close_reason = int(code), reason
        self._release_locked()

    def _release_locked(self) -> None:
        if self.state is SessionState.CLOSED:
            return
        self.state = SessionState.CLOSED
        self._changed.notify_all()
        self._owner.forget(self)
        self._outbox.close()
        self._queued_bytes = 0
        try:
            self._release()
        except OSError:
            pass
        if self._parked:
            self._pending.append(_CLOSED_NOTICE)
            self._start_delivery_locked()
