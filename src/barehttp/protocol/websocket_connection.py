"""WebSocketConnection: messages and the closing handshake over frames (RFC 6455 §5-§7).

Sans-IO: ``receive_data(data)`` turns the peer's bytes into events, the ``send_*``
methods queue frames, and ``data_to_send()`` hands the queued bytes to whoever
owns the socket. Pings are answered and the peer's Close is echoed here, so a
transport only moves bytes. A rule broken by the peer fails the connection:
a Close frame with the code the RFC names is queued and ``ConnectionFailed``
is the last event.

States (§7): ``OPEN`` until a Close is sent or received; ``CLOSING`` after we sent
ours and wait for the peer's (§7.1.2); ``CLOSED`` once both were exchanged or
the connection failed: the transport then closes TCP (the server first, §7.1.1).
"""

from __future__ import annotations

import codecs
import enum
import os
import struct
from collections.abc import Callable

from barehttp.protocol.websocket_deflate import DeflateParams, PerMessageDeflate
from barehttp.protocol.websocket_errors import (
    CloseCode,
    InvalidData,
    MessageTooBig,
    PolicyViolation,
    ProtocolError,
    WebSocketError,
    is_sendable_close_code,
)
from barehttp.protocol.websocket_events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from barehttp.protocol.websocket_frames import (
    MAX_CONTROL_PAYLOAD_BYTES,
    Frame,
    FrameParser,
    Opcode,
    Role,
    encode_frame,
)
from barehttp.protocol.websocket_limits import WebSocketLimits

_CLOSE_CODE = struct.Struct("!H")
_TEXT, _BINARY, _CONTINUATION = Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION
_CLOSE, _PING, _PONG = Opcode.CLOSE, Opcode.PING, Opcode.PONG
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


class ConnectionState(enum.Enum):
    OPEN = enum.auto()  # messages flow both ways
    CLOSING = enum.auto()  # our Close is sent; the peer's is awaited (§7.1.2)
    CLOSED = enum.auto()  # Close sent and received, or failed: close TCP (§7.1.1)


class SendAfterClose(RuntimeError):
    """Raised when the application sends after its Close (§5.5.1: no data frames after it)."""


def _random_mask() -> bytes:
    return os.urandom(4)  # §5.3: masks must be unpredictable, from a strong source


class WebSocketConnection:
    """One WebSocket connection after the opening handshake, for either role."""

    __slots__ = (
        "_decoder",
        "_deflate",
        "_limits",
        "_mask",
        "_message_compressed",
        "_message_opcode",
        "_message_parts",
        "_message_size",
        "_message_text",
        "_message_wire_bytes",
        "_outbox",
        "_parser",
        "_queued_bytes",
        "role",
        "state",
    )

    def __init__(
        self,
        role: Role = Role.SERVER,
        *,
        limits: WebSocketLimits | None = None,
        deflate: DeflateParams | None = None,
        mask_source: Callable[[], bytes] = _random_mask,
    ) -> None:
        self.role = role
        self.state = ConnectionState.OPEN
        self._limits = limits = limits or WebSocketLimits()
        self._deflate = None if deflate is None else PerMessageDeflate(deflate, role, limits)
        self._parser = FrameParser(
            role, max_frame_bytes=limits.max_frame_bytes, allow_rsv1=deflate is not None
        )
        # §5.1: a client masks every frame it sends, a server none.
        self._mask = mask_source if role is Role.CLIENT else None
        self._outbox: list[bytes] = []
        self._queued_bytes = 0
        # The message being received (§5.4): its opcode, or None between messages.
        self._message_opcode: Opcode | None = None
        self._message_compressed = False
        self._message_parts: list[bytes] = []  # a binary message's pieces
        self._message_text: list[str] = []  # a text message's pieces, decoded
        self._message_wire_bytes = 0
        self._message_size = 0
        self._decoder = _Utf8Decoder()

    @property
    def is_closed(self) -> bool:
        """True once the closing handshake is over or the connection failed."""
        return self.state is ConnectionState.CLOSED

    @property
    def queued_bytes(self) -> int:
        """Bytes queued for the peer that ``data_to_send`` has not handed out."""
        return self._queued_bytes

    def data_to_send(self) -> bytes:
        """Everything queued for the peer, in order; the queue is then empty."""
        data = b"".join(self._outbox)
        self._outbox.clear()
        self._queued_bytes = 0
        return data

    # Receiving.

    def receive_data(self, data: bytes) -> list[Event]:
        """The events completed by ``data`` from the peer.

        Bytes after the closing handshake or a failure are ignored (§1.4: after
        the Close, nothing more is read from the connection).
        """
        events: list[Event] = []
        if self.state is ConnectionState.CLOSED:
            return events
        parser = self._parser
        parser.receive(data)
        try:
            while (frame := parser.next_frame()) is not None:
                event = self._handle_frame(frame)
                if event is not None:
                    events.append(event)
                if self.is_closed:
                    break
        except WebSocketError as error:
            events.append(self._fail(error))
        return events

    def _fail(self, error: WebSocketError) -> ConnectionFailed:
        """§7.1.7 "Fail the WebSocket Connection": send a Close unless one was sent."""
        if self.state is ConnectionState.OPEN:
            self._queue(self._close_frame(error.close_code, error.message))
        self.state = ConnectionState.CLOSED
        return ConnectionFailed(int(error.close_code), error.message)

    def _handle_frame(self, frame: Frame) -> Event | None:
        opcode = frame.opcode
        if opcode is _TEXT or opcode is _BINARY:
            if self._message_opcode is not None:  # §5.4: fragments are not interleaved
                raise ProtocolError("new message before the previous one ended")
            if frame.fin and not frame.rsv1:  # the common case: one uncompressed frame
                return self._whole_message(opcode, frame.payload)
            self._message_opcode = opcode
            self._message_compressed = frame.rsv1
            self._message_wire_bytes = self._message_size = 0
            self._message_parts = []
            self._message_text = []
            self._decoder.reset()
            return self._add_fragment(frame)
        if opcode is _CONTINUATION:
            if self._message_opcode is None:  # §5.4: a continuation needs a message
                raise ProtocolError("continuation frame with no message in progress")
            return self._add_fragment(frame)
        # §5.4: control frames may be injected in the middle of a fragmented message.
        if opcode is _PING:
            self._queue(self._encode(_PONG, frame.payload), from_peer=True)  # §5.5.2
            return Ping(frame.payload)
        if opcode is _PONG:
            return Pong(frame.payload)
        return self._receive_close(frame.payload)

    def _whole_message(self, opcode: Opcode, payload: bytes) -> Event:
        if len(payload) > self._limits.max_message_bytes:
            raise MessageTooBig("message over the limit")
        if opcode is _BINARY:
            return BinaryMessage(payload)
        try:
            return TextMessage(payload.decode("utf-8"))
        except UnicodeDecodeError as error:  # §8.1: invalid UTF-8 fails with 1007
            raise InvalidData("text message is not valid UTF-8") from error

    def _add_fragment(self, frame: Frame) -> Event | None:
        limits = self._limits
        self._message_wire_bytes += len(frame.payload)
        if self._message_wire_bytes > limits.max_message_bytes:
            raise MessageTooBig("message over the limit")
        data = frame.payload
        if self._message_compressed:
            assert self._deflate is not None  # RSV1 is refused by the parser otherwise
            budget = limits.max_decompressed_message_bytes - self._message_size
            data = self._deflate.decompress(data, final=frame.fin, budget=budget)
        self._message_size += len(data)
        if self._message_opcode is _TEXT:
            # §8.1: UTF-8 is checked as fragments arrive, so a bad byte fails the
            # connection at once rather than after the whole message (fail fast).
            try:
                self._message_text.append(self._decoder.decode(data, frame.fin))
            except UnicodeDecodeError as error:
                raise InvalidData("text message is not valid UTF-8") from error
        else:
            self._message_parts.append(data)
        if not frame.fin:
            return None
        opcode = self._message_opcode
        self._message_opcode = None
        if opcode is _TEXT:
            text = "".join(self._message_text)
            self._message_text = []
            return TextMessage(text)
        data = b"".join(self._message_parts)
        self._message_parts = []
        return BinaryMessage(data)

    def _receive_close(self, payload: bytes) -> CloseReceived:
        # §5.5.1: an empty body, or a 2-byte status code and a UTF-8 reason.
        if len(payload) == 1:
            raise ProtocolError("close frame with a 1-byte payload")
        code = CloseCode.NO_STATUS_RECEIVED.value  # §7.1.5: reported when none is given
        reason = ""
        if payload:
            (code,) = _CLOSE_CODE.unpack_from(payload)
            if not is_sendable_close_code(code):  # §7.4: reserved or unassigned code
                raise ProtocolError("invalid close code")
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError as error:
                raise InvalidData("close reason is not valid UTF-8") from error
        if self.state is ConnectionState.OPEN:
            # §5.5.1: answer a Close with a Close, "typically echoing the status code".
            # Not bounded by max_queued_bytes: it is one frame, once.
            reply = b"" if not payload else _CLOSE_CODE.pack(code)
            self._queue(self._encode(_CLOSE, reply))
        self.state = ConnectionState.CLOSED
        return CloseReceived(code, reason)

    # Sending.

    def _encode(
        self, opcode: Opcode, payload: bytes, *, fin: bool = True, rsv1: bool = False
    ) -> bytes:
        mask = None if self._mask is None else self._mask()
        return encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=mask)

    def _queue(self, data: bytes, *, from_peer: bool = False) -> None:
        if from_peer and self._queued_bytes + len(data) > self._limits.max_queued_bytes:
            # A peer that pings faster than it reads would grow the outbox forever.
            raise PolicyViolation("too many unread replies queued for the peer")
        self._outbox.append(data)
        self._queued_bytes += len(data)

    def _check_open(self) -> None:
        if self.state is not ConnectionState.OPEN:
            raise SendAfterClose(f"cannot send a message in state {self.state.name}")

    def send_text(self, text: str, *, fragment_bytes: int | None = None) -> None:
        """Queue a text message; ``fragment_bytes`` splits it into frames of that size (§5.4)."""
        self._send_message(_TEXT, text.encode("utf-8"), fragment_bytes)

    def send_binary(self, data: bytes, *, fragment_bytes: int | None = None) -> None:
        """Queue a binary message; ``fragment_bytes`` splits it into frames of that size (§5.4)."""
        self._send_message(_BINARY, bytes(data), fragment_bytes)

    def _send_message(self, opcode: Opcode, payload: bytes, fragment_bytes: int | None) -> None:
        self._check_open()
        if fragment_bytes is not None and fragment_bytes < 1:
            raise ValueError("fragment_bytes must be at least 1")
        rsv1 = False
        if self._deflate is not None and len(payload) >= self._limits.deflate_min_message_bytes:
            payload = self._deflate.compress(payload)  # RFC 7692 §6.1
            rsv1 = True
        if fragment_bytes is None or len(payload) <= fragment_bytes:
            self._queue(self._encode(opcode, payload, rsv1=rsv1))
            return
        # §5.4: the first frame has the opcode, the others CONTINUATION, the last FIN;
        # RFC 7692 §6.1: RSV1 only on the first.
        for start in range(0, len(payload), fragment_bytes):
            end = start + fragment_bytes
            self._queue(
                self._encode(opcode, payload[start:end], fin=end >= len(payload), rsv1=rsv1)
            )
            opcode, rsv1 = _CONTINUATION, False

    def send_ping(self, payload: bytes = b"") -> None:
        """Queue a Ping (§5.5.2); up to 125 bytes."""
        self._check_not_closed()
        self._queue(self._encode(_PING, _control_payload(payload)))

    def send_pong(self, payload: bytes = b"") -> None:
        """Queue an unsolicited Pong, a heartbeat (§5.5.3); up to 125 bytes."""
        self._check_not_closed()
        self._queue(self._encode(_PONG, _control_payload(payload)))

    def _check_not_closed(self) -> None:
        if self.state is ConnectionState.CLOSED:
            raise SendAfterClose("cannot send on a closed connection")

    def send_close(self, code: int | None = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Queue our Close and enter ``CLOSING`` (§7.1.2); ``code`` None sends an empty body."""
        self._check_open()
        if code is None:
            if reason:
                raise ValueError("a close reason needs a close code (§5.5.1)")
            self._queue(self._encode(_CLOSE, b""))
        else:
            if not is_sendable_close_code(code):  # §7.4: 1005, 1006, 1015 are never sent
                raise ValueError(f"close code {code} may not be sent")
            if len(reason.encode("utf-8")) > MAX_CONTROL_PAYLOAD_BYTES - 2:
                raise ValueError("a close reason is at most 123 bytes of UTF-8")
            self._queue(self._close_frame(code, reason))
        self.state = ConnectionState.CLOSING

    def _close_frame(self, code: int, reason: str) -> bytes:
        return self._encode(_CLOSE, _CLOSE_CODE.pack(code) + reason.encode("utf-8"))


def _control_payload(payload: bytes) -> bytes:
    if len(payload) > MAX_CONTROL_PAYLOAD_BYTES:  # §5.5
        raise ValueError("a control frame carries at most 125 bytes")
    return bytes(payload)
