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
    """Consumes chunked bytes from a shared buffer and appends events.

    The buffer only grows at its end between calls (the parser appends what it
    receives), so the search for a line's end resumes where the last call stopped:
    a chunk or trailer line trickled one byte per read costs linear time.
    """

    __slots__ = (
        "_chunks",
        "_limits",
        "_remaining",
        "_scan_from",
        "_total",
        "_trailer_bytes",
        "_trailers",
        "state",
    )

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._remaining = 0  # bytes left in the current chunk
        self._total = 0  # decoded body bytes so far, for max_body_bytes
        self._chunks = 0  # chunks so far, for max_chunk_count
        self._scan_from = 0  # buffer bytes already searched for the end of a line
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
            if state is _DATA_END:
                # RFC 9112 §7.1: chunk-data is followed by exactly CRLF.
                if buffer[:2] != b"\r\n":
                    if len(buffer) >= 2 or (buffer and buffer[0] != 0x0D):  # not CR
                        raise BadRequest("chunk data longer than its declared size")
                    return False
                del buffer[:2]
                self.state = _SIZE_LINE
                continue
            line_end = buffer.find(b"\n", self._scan_from)
            if line_end == -1:
                self._scan_from = len(buffer)
                self._check_partial_line(len(buffer) - (buffer[-1:] == b"\r"))
                return False
            self._scan_from = 0
            if line_end == 0 or buffer[line_end - 1] != 0x0D:  # not CR
                # RFC 9112 §7.1: chunk lines end with CRLF; a bare LF is refused at
                # once, as in the head, so that no reader ends the line elsewhere. A
                # size limit broken before it decides first, as when trickled.
                self._check_partial_line(line_end)
                raise BadRequest("bare LF in chunked body; lines must end with CRLF")
            line = bytes(buffer[: line_end - 1])
            del buffer[: line_end + 1]
            if state is _SIZE_LINE:
                self._accept_size_line(line)
            elif not line:  # TRAILERS: the empty line that ends the trailer section
                events.append(EndOfMessage(Headers(self._trailers)))
                return True
            else:
                self._accept_trailer_line(line)

    def _check_partial_line(self, content: int) -> None:
        """Refuse a line already ``content`` bytes long before its CRLF arrives.

        A CR at the end may start the line's CRLF, so the caller does not count it:
        the same line must be refused (or not) whether or not it arrives in pieces.
        """
        if self.state is _SIZE_LINE:
            if content > self._limits.max_chunk_line_bytes:
                raise BadRequest("chunk size line too long")
        elif content and self._trailer_bytes + content + 2 > self._limits.max_trailer_bytes:
            raise HeaderFieldsTooLarge("trailer section too large")

    def _accept_size_line(self, line: bytes) -> None:
        limits = self._limits
        if len(line) > limits.max_chunk_line_bytes:
            raise BadRequest("chunk size line too long")
        # RFC 9112 §7.1.1: chunk = chunk-size [ chunk-ext ] CRLF, where chunk-ext starts
        # with BWS ";": whitespace after the size is allowed only before an extension.
        size_text, semicolon, _ = line.partition(b";")
        if semicolon:
            size_text = size_text.rstrip(b" \t")
            if grammar.CHUNK_EXTENSION.fullmatch(line, len(size_text)) is None:
                raise BadRequest("malformed chunk extension")
        if grammar.CHUNK_SIZE.fullmatch(size_text) is None:
            raise BadRequest("invalid chunk size")
        size = int(size_text, 16)
        self._total += size
        if self._total > limits.max_body_bytes:
            raise ContentTooLarge(f"request body over {limits.max_body_bytes} bytes")
        if size == 0:
            self.state = _TRAILERS  # RFC 9112 §7.1: last-chunk
            return
        # Each chunk costs a line parse and an event whatever its size: a body sent in
        # one-byte chunks would cost a hundred times what it costs in large ones.
        self._chunks += 1
        if self._chunks > limits.max_chunk_count:
            raise ContentTooLarge(f"chunked body in more than {limits.max_chunk_count} chunks")
        self._remaining = size
        self.state = _DATA

    def _accept_trailer_line(self, line: bytes) -> None:
        # RFC 9112 §7.1.2: trailer fields share the header field syntax.
        self._trailer_bytes += len(line) + 2
        if self._trailer_bytes > self._limits.max_trailer_bytes:
            raise HeaderFieldsTooLarge("trailer section too large")
        self._trailers.append(parse_field_line(line))
