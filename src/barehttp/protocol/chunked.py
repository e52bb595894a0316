"""Decoder for the chunked transfer coding (RFC 9112 §7.1)."""

from __future__ import annotations

import enum

from barehttp.protocol import grammar
from barehttp.protocol.errors import BadRequest, ContentTooLarge, HeaderFieldsTooLarge
from barehttp.protocol.events import BodyData, EndOfMessage, Event
from barehttp.protocol.fields import parse_field_line
from barehttp.protocol.headers import Headers
from barehttp.protocol.limits import Limits


class ChunkState(enum.Enum):
    SIZE_LINE = enum.auto()  # chunk-size [ chunk-ext ] CRLF
    DATA = enum.auto()  # chunk-data
    DATA_END = enum.auto()  # the CRLF after chunk-data
    TRAILERS = enum.auto()  # trailer-section CRLF


# Enum members looked up on their class cost about four times a module global in
# CPython 3.11; the hot paths compare against these aliases instead.
_SIZE_LINE = ChunkState.SIZE_LINE
_DATA = ChunkState.DATA
_DATA_END = ChunkState.DATA_END
_TRAILERS = ChunkState.TRAILERS


class ChunkedDecoder:
    """Consumes chunked bytes from a shared buffer and appends events."""

    __slots__ = ("_limits", "_remaining", "_total", "_trailer_bytes", "_trailers", "state")

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._remaining = 0  # bytes left in the current chunk
        self._total = 0  # decoded body bytes so far, for max_body_bytes
        self._trailer_bytes = 0
        self._trailers: list[tuple[str, str]] = []
        self.state = _SIZE_LINE

    def decode(self, buffer: bytearray, events: list[Event]) -> bool:
        """Consume what ``buffer`` holds; True once the last chunk and trailers are read."""
        while True:
            state = self.state
            if state is _DATA:
                if not buffer:
                    return False
                take = min(self._remaining, len(buffer))
                events.append(BodyData(bytes(buffer[:take])))
                del buffer[:take]
                self._remaining -= take
                if self._remaining == 0:
                    self.state = _DATA_END
                continue
            line_end = buffer.find(b"\r\n")
            if line_end == -1:
                self._check_partial_line(buffer)
                return False
            line = bytes(buffer[:line_end])
            del buffer[: line_end + 2]
            if state is _SIZE_LINE:
                self._accept_size_line(line)
            elif state is _DATA_END:
                if line:  # RFC 9112 §7.1: chunk-data is followed by exactly CRLF
                    raise BadRequest("chunk data longer than its declared size")
                self.state = _SIZE_LINE
            else:
                if not line:  # the empty line that ends the trailer section
                    events.append(EndOfMessage(Headers(self._trailers)))
                    return True
                self._accept_trailer_line(line)

    def _check_partial_line(self, buffer: bytearray) -> None:
        """Refuse a line that is already too long before its CRLF arrives."""
        if self.state is _DATA_END:
            if len(buffer) >= 2 or bytes(buffer[:1]) not in (b"", b"\r"):
                raise BadRequest("chunk data longer than its declared size")
            return
        # A CR at the end may start the line's CRLF, so it does not count as content:
        # the same line must be refused (or not) whether or not it arrives in pieces.
        content = len(buffer) - (buffer[-1:] == b"\r")
        if self.state is _SIZE_LINE:
            if content > self._limits.max_chunk_line_bytes:
                raise BadRequest("chunk size line too long")
        elif content and self._trailer_bytes + content + 2 > self._limits.max_trailer_bytes:
            raise HeaderFieldsTooLarge("trailer section too large")

    def _accept_size_line(self, line: bytes) -> None:
        if len(line) > self._limits.max_chunk_line_bytes:
            raise BadRequest("chunk size line too long")
        # RFC 9112 §7.1.1: chunk = chunk-size [ chunk-ext ] CRLF, where chunk-ext starts
        # with BWS ";": whitespace after the size is allowed only before an extension.
        size_text, semicolon, extension = line.partition(b";")
        if semicolon:
            size_text = size_text.rstrip(b" \t")
            if grammar.CHUNK_EXTENSION.fullmatch(extension) is None:
                raise BadRequest("control character in a chunk extension")
        if grammar.CHUNK_SIZE.fullmatch(size_text) is None:
            raise BadRequest("invalid chunk size")
        size = int(size_text, 16)
        self._total += size
        if self._total > self._limits.max_body_bytes:
            raise ContentTooLarge(f"request body over {self._limits.max_body_bytes} bytes")
        if size == 0:
            self.state = _TRAILERS  # RFC 9112 §7.1: last-chunk
        else:
            self._remaining = size
            self.state = _DATA

    def _accept_trailer_line(self, line: bytes) -> None:
        # RFC 9112 §7.1.2: trailer fields share the header field syntax.
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > self._limits.max_trailer_bytes:
            raise HeaderFieldsTooLarge("trailer section too large")
        self._trailers.append(parse_field_line(line))
