"""A small WebSocket client on plain sockets (RFC 6455), for the load and idle benches.

Stdlib only, like every bench script, and cheap per message: a client frame is
masked once and then sent as the same bytes again and again (the server still
unmasks every one), and a server frame is read by its length alone. It is not a
general client: no extensions, no fragmentation, server frames up to 64 KiB.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct

from harness import HOST

WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA
HEAD_LIMIT_BYTES = 16_384  # a 101 response head longer than this is an error


class WebSocketError(Exception):
    """The handshake or a frame was not what the bench expects."""


def handshake_request(port: int, path: str = "/ws") -> tuple[bytes, bytes]:
    """The opening handshake (RFC 6455 §4.1) and the Sec-WebSocket-Accept it must get."""
    key = base64.b64encode(os.urandom(16))
    accept = base64.b64encode(hashlib.sha1(key + WEBSOCKET_GUID).digest())
    request = (
        (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        ).encode()
        + b"Sec-WebSocket-Key: "
        + key
        + b"\r\n\r\n"
    )
    return request, accept


def check_handshake_response(head: bytes, accept: bytes) -> None:
    """Raises WebSocketError unless ``head`` is a 101 with the right Sec-WebSocket-Accept."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 101"):
        raise WebSocketError(f"handshake answered {lines[0][:60]!r}")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-accept":
            if value.strip() != accept:
                raise WebSocketError("wrong Sec-WebSocket-Accept")
            return
    raise WebSocketError("no Sec-WebSocket-Accept")


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame, masked with a fresh random key (RFC 6455 §5.2, §5.3)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65_536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    repeated = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        length, "big"
    )
    return head + mask + masked


def server_frame_length(buffer: bytes | bytearray) -> int:
    """Bytes of the first (unmasked) server frame in ``buffer``, or 0 if incomplete."""
    if len(buffer) < 2:
        return 0
    length = buffer[1] & 0x7F
    if buffer[1] & 0x80:
        raise WebSocketError("the server masked a frame")
    if length < 126:
        total = 2 + length
    elif length == 126:
        if len(buffer) < 4:
            return 0
        total = 4 + int.from_bytes(buffer[2:4], "big")
    else:
        if len(buffer) < 10:
            return 0
        total = 10 + int.from_bytes(buffer[2:10], "big")
    return total if len(buffer) >= total else 0


def server_frame_payload(frame: bytes | bytearray) -> tuple[int, bytes]:
    """(opcode, payload) of one whole server frame."""
    length = frame[1] & 0x7F
    start = 2 if length < 126 else 4 if length == 126 else 10
    return frame[0] & 0x0F, bytes(frame[start:])


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """Read a response head; returns it and any bytes after it."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(4_096)
        if not data:
            raise WebSocketError("closed during the handshake")
        buffer += data
        if len(buffer) > HEAD_LIMIT_BYTES:
            raise WebSocketError("handshake response head too long")
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest


def open_websocket(port: int, timeout_s: float, path: str = "/ws") -> tuple[socket.socket, bytes]:
    """Connect and complete the handshake (blocking); the socket and bytes already read."""
    sock = socket.create_connection((HOST, port), timeout=timeout_s)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request, accept = handshake_request(port, path)
        sock.sendall(request)
        head, rest = read_head(sock)
        check_handshake_response(head, accept)
    except BaseException:
        sock.close()
        raise
    return sock, rest


def echo_once(sock: socket.socket, frame: bytes, early: bytes = b"") -> tuple[int, bytes]:
    """Send ``frame`` and read the next data frame back (blocking); its opcode and payload.

    A Ping met on the way is answered with its Pong (RFC 6455 §5.5.2), a Pong skipped.
    """
    sock.sendall(frame)
    buffer = bytearray(early)
    while True:
        while not (size := server_frame_length(buffer)):
            data = sock.recv(65_536)
            if not data:
                raise WebSocketError("closed before the echo")
            buffer += data
        opcode, payload = server_frame_payload(buffer[:size])
        del buffer[:size]
        if opcode == OPCODE_PING:
            sock.sendall(masked_frame(OPCODE_PONG, payload))
        elif opcode != OPCODE_PONG:
            return opcode, payload
