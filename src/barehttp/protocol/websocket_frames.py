"""WebSocket frames (RFC 6455 §5): an incremental parser and a writer, for either role.

``FrameParser.feed(data)`` returns every frame the bytes complete, with its payload
unmasked, so the same bytes give the same frames however they are split. Each
rule of §5.2 that a single frame can break is checked here; rules that span
frames (fragmentation, UTF-8, the closing handshake) belong to the connection.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from barehttp.protocol.websocket_errors import MessageTooBig, ProtocolError


class Role(enum.Enum):
    """Which end we are: it decides which frames are masked (§5.1, §5.3)."""

    SERVER = enum.auto()  # receives masked frames, sends unmasked ones
    CLIENT = enum.auto()  # receives unmasked frames, sends masked ones


class Opcode(enum.IntEnum):
    """RFC 6455 §5.2 and §11.8; 0x3-0x7 and 0xB-0xF are reserved."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        """§5.5: control frames have opcodes whose most significant bit is 1."""
        return self.value & 0x8 != 0


_OPCODES: dict[int, Opcode] = {opcode.value: opcode for opcode in Opcode}

# §5.5: "All control frames MUST have a payload length of 125 bytes or less."
MAX_CONTROL_PAYLOAD_BYTES = 125

_FIN = 0x80
_RSV1 = 0x40
_RSV2_RSV3 = 0x30
_MASK = 0x80
_U16 = struct.Struct("!H")
_U64 = struct.Struct("!Q")


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame as received, payload unmasked."""

    opcode: Opcode
    payload: bytes
    fin: bool = True
    rsv1: bool = False  # RFC 7692 §6: "Per-Message Compressed" on a message's first frame


# XOR_TABLES[k] maps every byte b to b ^ k, for bytes.translate.
_XOR_TABLES = tuple(bytes(byte ^ key for byte in range(256)) for key in range(256))
# Below this many bytes one big-integer XOR is faster; above it, four strided
# translates (measured with CPython 3.11: equal near 512 bytes, 3x faster at 64 KiB).
_TRANSLATE_FROM_BYTES = 512


def apply_mask(data: bytes, mask: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (§5.3); masking is its own inverse."""
    length = len(data)
    if length < _TRANSLATE_FROM_BYTES:
        if length == 0:
            return b""
        key = (mask * (length // 4 + 1))[:length]
        masked = int.from_bytes(data, "big") ^ int.from_bytes(key, "big")
        return masked.to_bytes(length, "big")
    out = bytearray(data)
    # Byte i is masked with mask[i % 4]: each of the four strides has one key byte.
    for offset in range(4):
        out[offset::4] = out[offset::4].translate(_XOR_TABLES[mask[offset]])
    return bytes(out)


def encode_frame(
    opcode: Opcode,
    payload: bytes,
    *,
    fin: bool = True,
    rsv1: bool = False,
    mask: bytes | None = None,
) -> bytes:
    """The bytes of one frame (§5.2); ``mask`` (4 bytes) is given by a client only."""
    if opcode.is_control and (len(payload) > MAX_CONTROL_PAYLOAD_BYTES or not fin):
        raise ValueError("control frames carry at most 125 bytes and are never fragmented")
    first = (_FIN if fin else 0) | (_RSV1 if rsv1 else 0) | opcode.value
    mask_bit = 0
    if mask is not None:
        if len(mask) != 4:
            raise ValueError("a masking key is 4 bytes")
        mask_bit = _MASK
        payload = mask + apply_mask(payload, mask)
    length = len(payload) - (4 if mask is not None else 0)
    # §5.2: the payload length in the fewest bytes: 7 bits, or 126 + 16 bits, or
    # 127 + 64 bits (most significant bit 0).
    if length < 126:
        return bytes((first, mask_bit | length)) + payload
    if length < 0x10000:
        return bytes((first, mask_bit | 126)) + _U16.pack(length) + payload
    return bytes((first, mask_bit | 127)) + _U64.pack(length) + payload


class FrameParser:
    """Turns bytes from the peer into ``Frame``s, checking the rules of §5.2.

    ``max_frame_bytes`` bounds the payload a frame may declare (1009 when over);
    ``allow_rsv1`` is set when an extension that uses RSV1 (permessage-deflate)
    was negotiated. Every violation raises a ``WebSocketError`` with its close code.
    """

    __slots__ = ("_allow_rsv1", "_buffer", "_expect_masked", "_max_frame_bytes", "_start")

    def __init__(self, role: Role, *, max_frame_bytes: int, allow_rsv1: bool = False) -> None:
        # §5.1: a server MUST close the connection on an unmasked frame, a client
        # on a masked one.
        self._expect_masked = role is Role.SERVER
        self._max_frame_bytes = max_frame_bytes
        self._allow_rsv1 = allow_rsv1
        self._buffer = bytearray()
        self._start = 0  # where the next frame begins in the buffer

    @property
    def buffered_bytes(self) -> int:
        """Bytes received that do not yet make a whole frame."""
        return len(self._buffer) - self._start

    def receive(self, data: bytes) -> None:
        """Append bytes from the peer; ``next_frame`` takes the frames out."""
        self._buffer += data

    def next_frame(self) -> Frame | None:
        """The next complete frame, or None until more bytes arrive."""
        buffer = self._buffer
        start = self._start
        end = len(buffer)
        frame = self._read_frame(buffer, start, end) if end - start >= 2 else None
        if frame is None:
            del buffer[:start]  # keep only the incomplete frame
            self._start = 0
        return frame

    def feed(self, data: bytes) -> list[Frame]:
        """Append ``data`` and return every frame it completes."""
        self.receive(data)
        frames: list[Frame] = []
        while (frame := self.next_frame()) is not None:
            frames.append(frame)
        return frames

    def _read_frame(self, buffer: bytearray, start: int, end: int) -> Frame | None:
        """Parse the frame at ``start``, or None when more bytes are needed."""
        first = buffer[start]
        second = buffer[start + 1]
        opcode = _OPCODES.get(first & 0x0F)
        if opcode is None:  # §5.2: reserved opcodes MUST fail the connection
            raise ProtocolError(f"reserved opcode {first & 0x0F:#x}")
        # §5.2: RSV1-3 MUST be 0 unless an extension defines them; RFC 7692 §6 uses
        # RSV1 only, and only on the first frame of a data message.
        if first & _RSV2_RSV3:
            raise ProtocolError("reserved bit RSV2 or RSV3 set")
        rsv1 = first & _RSV1 != 0
        if rsv1 and (not self._allow_rsv1 or opcode.is_control or opcode is Opcode.CONTINUATION):
            raise ProtocolError("reserved bit RSV1 set")
        fin = first & _FIN != 0
        masked = second & _MASK != 0
        if masked is not self._expect_masked:  # §5.1
            raise ProtocolError("client frame not masked" if masked is False else "masked frame")
        length = second & 0x7F
        position = start + 2
        if opcode.is_control:
            # §5.5: control frames are at most 125 bytes and MUST NOT be fragmented.
            if length > MAX_CONTROL_PAYLOAD_BYTES:
                raise ProtocolError("control frame longer than 125 bytes")
            if not fin:
                raise ProtocolError("fragmented control frame")
        elif length == 126:
            if end - position < 2:
                return None
            (length,) = _U16.unpack_from(buffer, position)
            position += 2
        elif length == 127:
            if end - position < 8:
                return None
            (length,) = _U64.unpack_from(buffer, position)
            if length >> 63:  # §5.2: "the most significant bit MUST be 0"
                raise ProtocolError("64-bit payload length with its top bit set")
            position += 8
        if length > self._max_frame_bytes:
            raise MessageTooBig(f"frame of {length} bytes is over the limit")
        if masked:
            if end - position < 4 + length:
                return None
            mask = bytes(buffer[position : position + 4])
            position += 4
            payload = apply_mask(bytes(buffer[position : position + length]), mask)
        else:
            if end - position < length:
                return None
            payload = bytes(buffer[position : position + length])
        self._start = position + length
        return Frame(opcode, payload, fin, rsv1)
