"""RequestParser: an incremental HTTP/1.1 request parser. Bytes in, events out.

The parser owns no socket and no clock. ``feed(data)`` appends bytes and returns
every event they complete, so the same bytes give the same events however they
are split. After ``EndOfMessage`` the parser pauses (state ``DONE``) and keeps any
pipelined bytes buffered until ``start_next()``: the server must finish one
response before it reads the next request (RFC 9112 §9.3.2).

Every malformed input raises an ``HTTPError`` subclass carrying the status to
answer; after one, the connection must be closed, since the framing of whatever
follows can no longer be trusted. When the bytes of one ``feed`` complete events
before the error (a request head, then a malformed chunk line), ``feed`` returns
those events and keeps the error (state ``FAILED``): the next ``feed`` raises it,
exactly as if the bytes had arrived in two reads. Events, then the error, are
thus the same however the bytes are split.
"""

from __future__ import annotations

import enum

from barehttp.protocol import grammar
from barehttp.protocol.chunked import ChunkedDecoder
from barehttp.protocol.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    HTTPError,
    MethodNotImplemented,
    URITooLong,
    VersionNotSupported,
)
from barehttp.protocol.events import BodyData, EndOfMessage, Event, RequestHead
from barehttp.protocol.fields import parse_field_line
from barehttp.protocol.framing import build_head
from barehttp.protocol.headers import Headers
from barehttp.protocol.limits import Limits
from barehttp.protocol.memo import Memo

_END_OF_HEAD = b"\r\n\r\n"
_FRAMING_FIELDS = frozenset({"content-length", "transfer-encoding", "connection", "expect", "host"})
_NONE: list[str] = []


class ParseState(enum.Enum):
    HEAD = enum.auto()  # request line and header section
    FIXED_BODY = enum.auto()  # body framed by Content-Length
    CHUNKED_BODY = enum.auto()  # body framed by chunked coding
    DONE = enum.auto()  # one request complete; paused until start_next()
    FAILED = enum.auto()  # malformed input: every feed() raises the error


# Enum members looked up on their class cost about four times a module global in
# CPython 3.11; the hot paths compare against these aliases instead.
_HEAD = ParseState.HEAD
_FIXED_BODY = ParseState.FIXED_BODY
_CHUNKED_BODY = ParseState.CHUNKED_BODY
_DONE = ParseState.DONE
_FAILED = ParseState.FAILED
_is_request_byte = grammar.NOT_CRLF.search


class RequestParser:
    """Turns request bytes into ``RequestHead``, ``BodyData`` and ``EndOfMessage``."""

    __slots__ = ("_buffer", "_chunked", "_error", "_limits", "_remaining", "_scan_from", "state")

    def __init__(self, limits: Limits | None = None) -> None:
        self._limits = limits or Limits()
        self._buffer = bytearray()
        self._scan_from = 0  # where the search for the end of the head resumes
        self._remaining = 0  # body bytes still expected (FIXED_BODY)
        self._chunked: ChunkedDecoder | None = None
        self._error: HTTPError | None = None  # raised by every feed() once FAILED
        self.state = _HEAD

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet turned into events."""
        return len(self._buffer)

    @property
    def is_mid_request(self) -> bool:
        """True once any byte of a request arrived and its message is not complete."""
        # Only empty lines (RFC 9112 §2.2) may lead the buffer, and _parse_head drops
        # them: the search stops within a byte or two, and copies nothing.
        if self.state is not _HEAD:
            return True
        buffer = self._buffer
        return bool(buffer) and _is_request_byte(buffer) is not None  # empty: the usual case

    def start_next(self) -> None:
        """Resume after a complete request: the next ``feed`` parses pipelined bytes."""
        if self.state is not _DONE:
            raise RuntimeError("start_next() before the current request is complete")
        self.state = _HEAD
        self._scan_from = 0

    def take_buffered(self) -> bytes:
        """Hand over the bytes received after a complete request, and forget them.

        For a connection that switches protocols (RFC 9110 §7.8, a WebSocket
        upgrade): what the client sent after the head belongs to the new protocol.
        """
        if self.state is not _DONE:
            raise RuntimeError("take_buffered() before the current request is complete")
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def feed(self, data: bytes) -> list[Event]:
        """Add ``data`` and return the events it completes (maybe none).

        Raises the ``HTTPError`` met in the bytes, unless events came before it in
        this call: then those are returned, and the next call raises it.
        """
        if self._error is not None:
            raise self._error
        if data:
            self._buffer += data
        events: list[Event] = []
        try:  # costs nothing until an error is raised (CPython 3.11)
            while True:
                state = self.state
                if state is _HEAD:
                    head = self._parse_head()
                    if head is None:
                        break
                    events.append(head)
                    if head.chunked:
                        self._chunked = ChunkedDecoder(self._limits)
                        self.state = _CHUNKED_BODY
                    elif head.content_length:
                        self._remaining = head.content_length
                        self.state = _FIXED_BODY
                    else:
                        events.append(EndOfMessage(Headers()))  # new each time: Headers is mutable
                        self.state = _DONE
                elif state is _FIXED_BODY:
                    if not self._buffer:
                        break
                    take = min(self._remaining, len(self._buffer))
                    events.append(BodyData(bytes(self._buffer[:take])))
                    del self._buffer[:take]
                    self._remaining -= take
                    if self._remaining == 0:
                        events.append(EndOfMessage(Headers()))  # new each time: Headers is mutable
                        self.state = _DONE
                elif state is _CHUNKED_BODY:
                    assert self._chunked is not None
                    finished = self._chunked.decode(self._buffer, events)
                    if not finished:
                        break
                    self._chunked = None
                    self.state = _DONE
                else:  # DONE: pipelined bytes wait for start_next()
                    break
        except HTTPError as error:
            self._error = error
            self.state = _FAILED
            if events:
                return events
            raise
        return events

    # -- head ---------------------------------------------------------------

    def _parse_head(self) -> RequestHead | None:
        buffer = self._buffer
        limits = self._limits
        # RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF)
        # received before the request-line.
        while buffer.startswith(b"\r\n"):
            del buffer[:2]
        end = buffer.find(_END_OF_HEAD, self._scan_from)
        if end == -1:
            self._check_incomplete_head(buffer, self._scan_from)
            # The terminator may straddle this feed and the next one.
            self._scan_from = max(0, len(buffer) - 3)
            return None
        head_bytes = bytes(buffer[:end])
        if head_bytes.count(b"\n") != head_bytes.count(b"\r\n"):
            # A bare LF: raise what a reader fed one byte at a time would have raised.
            self._check_incomplete_head(head_bytes + b"\r\n\r")
        del buffer[: end + 4]
        self._scan_from = 0
        line_end = head_bytes.find(b"\r\n")
        if line_end == -1:
            request_line, field_block = head_bytes, b""
        else:
            request_line, field_block = head_bytes[:line_end], head_bytes[line_end + 2 :]
        if len(request_line) > limits.max_request_line_bytes:
            raise URITooLong(f"request line longer than {limits.max_request_line_bytes} bytes")
        if len(field_block) > limits.max_header_bytes:
            raise HeaderFieldsTooLarge(f"header section over {limits.max_header_bytes} bytes")
        method, target, version = _parse_request_line(request_line)
        if field_block:
            fields, framing = _parse_field_block(field_block, limits.max_header_count)
        else:
            fields, framing = [], {}
        return build_head(method, target, version, fields, framing, limits)

    def _check_incomplete_head(self, head: bytes | bytearray, new_from: int = 0) -> None:
        """Enforce size limits and line endings on a head whose end has not arrived.

        Each rule is broken at one byte: the first past a size limit, or a bare LF.
        When ``head`` breaks several, the earliest such byte decides the status, so a
        client gets the same answer however its bytes were split between reads.
        Bytes before ``new_from`` were checked by an earlier call (which found no bare
        LF there), so only the rest is searched: a head trickled one byte per read
        must cost linear time, not quadratic.
        """
        limits = self._limits
        never = len(head)
        line_end = head.find(b"\n")
        max_line = limits.max_request_line_bytes
        line_over = never
        if line_end == -1 or line_end > max_line:
            # The byte after max_line bytes is one too many, unless it is the CR of
            # the CRLF that ends the line.
            line_over = max_line + 1 if head[max_line : max_line + 1] == b"\r" else max_line
            if line_over == line_end:
                line_over = never
        # Up to three bytes at the end may be the start of the final CRLF CRLF.
        header_over = line_end + limits.max_header_bytes + 4 if line_end != -1 else never
        # RFC 9112 §2.2 lets a recipient accept a bare LF as a line end; we refuse it
        # so that we never disagree with a proxy in front of us about where the head ends.
        bare_lf = grammar.BARE_LF.search(head, new_from)  # the lookbehind sees before it
        bare_lf_at = bare_lf.start() if bare_lf is not None else never
        first = min(line_over, header_over, bare_lf_at)
        if first >= never:
            return
        if first == line_over:
            raise URITooLong(f"request line longer than {limits.max_request_line_bytes} bytes")
        if first == header_over:
            raise HeaderFieldsTooLarge(f"header section over {limits.max_header_bytes} bytes")
        raise BadRequest("bare LF in request head; lines must end with CRLF")


# Parsed request lines by their bytes, for the same reason as _FIELD_BLOCKS below:
# clients ask for the same resources again and again. Values are immutable.
# Module-level, not per parser: a parser lives for one connection, and the lines
# repeat across connections; parsing is a pure function of the bytes, so sharing
# is safe (a dict read or write is atomic under the GIL). Bounded by entries and by
# key size, so at most 1_024 x 512 bytes of keys.
REQUEST_LINE_CACHE_MAX_ENTRIES = 1_024
REQUEST_LINE_CACHE_MAX_BYTES = 512
_REQUEST_LINES: Memo[bytes, tuple[str, str, str]] = Memo(REQUEST_LINE_CACHE_MAX_ENTRIES)


def _parse_request_line(line: bytes) -> tuple[str, str, str]:
    parsed = _REQUEST_LINES.get(line)
    if parsed is None:
        parsed = _parse_new_request_line(line)
        if len(line) <= REQUEST_LINE_CACHE_MAX_BYTES:
            _REQUEST_LINES.put(line, parsed)
    return parsed


def _parse_new_request_line(line: bytes) -> tuple[str, str, str]:
    match = grammar.REQUEST_LINE.fullmatch(line)
    if match is None:
        parts = line.split(b" ")
        version = parts[-1]
        if (
            len(parts) == 3
            and grammar.ANY_HTTP_VERSION.fullmatch(version)
            and version[:7] != b"HTTP/1."
        ):
            raise VersionNotSupported("only HTTP/1.0 and HTTP/1.1 are supported")
        raise BadRequest("malformed request line")
    method, target, version = match.groups()
    # RFC 9110 §9.3.6: CONNECT asks for a tunnel. It has no content, and a 2xx answer
    # turns the connection into one (RFC 9112 §6.3 rule 2), so a proxy in front that
    # forwards it would open a blind tunnel to us. Not a proxy: 501 in every form
    # (RFC 9110 §9.1), before any body is framed, and the connection is closed.
    if method == b"CONNECT":
        raise MethodNotImplemented("CONNECT is not supported: this server is not a proxy")
    # RFC 9112 §3.2: no form of request-target has a fragment; a client never sends
    # one (RFC 9110 §7.1), so "#" here is a broken or hostile client.
    if b"#" in target:
        raise BadRequest("request target must not contain '#' (a fragment)")
    # RFC 9110 §2.5 / RFC 9112 §2.3: only major version 1 is spoken here; a higher
    # minor version (HTTP/1.2) is answered as HTTP/1.1.
    if version[5:6] != b"1":
        raise VersionNotSupported("only HTTP/1.0 and HTTP/1.1 are supported")
    version_text = "HTTP/1.0" if version == b"HTTP/1.0" else "HTTP/1.1"
    return method.decode("ascii"), target.decode("latin-1"), version_text


# Parsed header sections by their exact bytes. A client repeats its header section
# byte for byte from request to request (the same User-Agent, Accept and Cookie
# lines), and parsing one is a pure function of its bytes, so it is memoized:
# bounded in entries and in key size (at most 1_024 x 4 KiB of keys), and shared
# across connections like _REQUEST_LINES.
FIELD_BLOCK_CACHE_MAX_ENTRIES = 1_024
FIELD_BLOCK_CACHE_MAX_BYTES = 4_096
_FIELD_BLOCKS: Memo[bytes, tuple[list[tuple[str, str]], dict[str, list[str]]]] = Memo(
    FIELD_BLOCK_CACHE_MAX_ENTRIES
)


def _parse_field_block(
    block: bytes, max_count: int
) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    """All field lines, plus the few that shape framing grouped by name.

    The caller owns the returned list (a copy); the dict is shared and read-only.
    """
    if block.count(b"\r\n") >= max_count:
        raise HeaderFieldsTooLarge(f"more than {max_count} header fields")
    cached = _FIELD_BLOCKS.get(block)
    if cached is not None:
        return list(cached[0]), cached[1]
    if grammar.FIELD_BLOCK.fullmatch(block) is None:
        # Some line breaks a rule: find it, for an exact error message.
        for raw_line in block.split(b"\r\n"):
            parse_field_line(raw_line)
        raise BadRequest("malformed header section")  # pragma: no cover - defensive
    fields: list[tuple[str, str]] = []
    framing: dict[str, list[str]] = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        # RFC 9112 §5.1: OWS around the value is not part of it; names are case-insensitive.
        name = name.lower()
        value = value.strip(" \t")
        fields.append((name, value))
        if name in _FRAMING_FIELDS:
            if name in framing:
                framing[name].append(value)
            else:
                framing[name] = [value]
    # RFC 9112 §3.2: a Host field with an invalid value gets 400. Checked here, so
    # that a memoized block was checked once.
    for host in framing.get("host", _NONE):
        if grammar.HOST.fullmatch(host) is None:
            raise BadRequest("Host header must be a host name or address, with an optional port")
    if len(block) <= FIELD_BLOCK_CACHE_MAX_BYTES:
        _FIELD_BLOCKS.put(block, (fields, framing))
        return list(fields), framing
    return fields, framing
