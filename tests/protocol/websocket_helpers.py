"""Helpers for the WebSocket protocol tests: raw frames, and running a connection on pieces."""

from __future__ import annotations

import struct

from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_deflate import DeflateParams
from barehttp.protocol.websocket_events import Event
from barehttp.protocol.websocket_frames import Role, apply_mask
from barehttp.protocol.websocket_limits import WebSocketLimits
from tests.protocol.helpers import split_at

MASK = b"\x37\xfa\x21\x3d"  # RFC 6455 §5.7's example masking key


def raw_frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bytes | None = MASK,
    length_bytes: int | None = None,
    declared_length: int | None = None,
) -> bytes:
    """A frame built bit by bit, free to break any rule: ``rsv`` is the 3 RSV bits
    (4 = RSV1), ``length_bytes`` forces 0, 2 or 8 extended length bytes and
    ``declared_length`` a length other than the payload's."""
    length = len(payload) if declared_length is None else declared_length
    if length_bytes is None:
        length_bytes = 0 if length < 126 else 2 if length < 0x10000 else 8
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if mask is not None else 0
    if length_bytes == 0:
        head = bytes((first, mask_bit | length))
    elif length_bytes == 2:
        head = bytes((first, mask_bit | 126)) + struct.pack("!H", length)
    else:
        head = bytes((first, mask_bit | 127)) + struct.pack("!Q", length)
    if mask is None:
        return head + payload
    return head + mask + apply_mask(payload, mask)


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def run(
    data: bytes,
    cuts: list[int] | None = None,
    *,
    role: Role = Role.SERVER,
    limits: WebSocketLimits | None = None,
    deflate: DeflateParams | None = None,
) -> tuple[list[Event], bytes, WebSocketConnection]:
    """Feed ``data`` (cut at ``cuts``) to a fresh connection: its events, what it
    queued for the peer, and the connection."""
    connection = WebSocketConnection(role, limits=limits, deflate=deflate, mask_source=lambda: MASK)
    events: list[Event] = []
    for piece in split_at(data, cuts or []):
        events += connection.receive_data(piece)
    return events, connection.data_to_send(), connection
