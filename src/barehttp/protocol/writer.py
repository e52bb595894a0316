"""Response heads and body framing, as bytes (RFC 9112 §4, §6, §7)."""

from __future__ import annotations

import email.utils
import http
import re

from barehttp.protocol import grammar
from barehttp.protocol.memo import Memo

SERVER_NAME = "barehttp"

# RFC 9110 §15: reason phrases for every registered status.
_REASONS: dict[int, str] = {status.value: status.phrase for status in http.HTTPStatus}
# Bounded by what it holds: a valid status (100-999) in one of two versions.
_STATUS_LINES: dict[tuple[str, int], bytes] = {}

# Response fields are checked as strictly as request fields: a CR or LF in a
# value would let application data split the response (response splitting).
_TOKEN = re.compile(grammar.field_name)
_INVALID_VALUE_CHAR = re.compile("[" + grammar.field_value_forbidden + "]")

# Fields the server frames itself; an application may not set them (RFC 9110 §7.6.1
# hop-by-hop fields, and the framing fields of RFC 9112 §6).
FRAMING_FIELDS = frozenset({"content-length", "transfer-encoding", "connection"})

LAST_CHUNK = b"0\r\n\r\n"


def format_http_date(timestamp: float) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7), e.g. ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    return email.utils.formatdate(timestamp, usegmt=True)


def status_line(http_version: str, status: int) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n``; cached, since a server uses few statuses."""
    key = (http_version, status)
    line = _STATUS_LINES.get(key)
    if line is None:
        if not 100 <= status <= 999:
            raise ValueError(f"invalid status code {status}")
        line = f"{http_version} {status} {_REASONS.get(status, '')}\r\n".encode("latin-1")
        _STATUS_LINES[key] = line
    return line


def reason_phrase(status: int) -> str:
    return _REASONS.get(status, "")


def has_body(method: str, status: int) -> bool:
    """RFC 9112 §6.3 (1): no content after HEAD, 1xx, 204 or 304."""
    return not (method == "HEAD" or status < 200 or status == 204 or status == 304)


def check_field(name: str, value: str) -> None:
    """Refuse a response field that is not valid HTTP (no header injection)."""
    if _TOKEN.fullmatch(name) is None:
        raise ValueError(f"invalid response header name {name!r}")
    if _INVALID_VALUE_CHAR.search(value) is not None:
        raise ValueError(f"invalid character in value of response header {name!r}")


# What a checked field line contributes: its bytes and whether it is Date/Server.
_PLAIN, _DATE, _SERVER = 0, 1, 2
# Checked field lines by (name, value). Applications send the same few fields over
# and over; validating and encoding each pair once makes writing a head several
# times cheaper. Module-level, shared by every response of the process (the same
# fields recur across connections); bounded, since values may be client-dependent.
FIELD_CACHE_MAX_ENTRIES = 4_096
_FIELD_LINES: Memo[tuple[str, str], tuple[bytes, int]] = Memo(FIELD_CACHE_MAX_ENTRIES)


def _field_line(field: tuple[str, str]) -> tuple[bytes, int]:
    name, value = field
    check_field(name, value)
    lower = name.lower()
    if lower in FRAMING_FIELDS:
        raise ValueError(f"response header {name!r} is set by the server")
    kind = _DATE if lower == "date" else _SERVER if lower == "server" else _PLAIN
    line = (name + ": " + value + "\r\n").encode("latin-1")
    return _FIELD_LINES.put(field, (line, kind))


_SERVER_LINE = f"Server: {SERVER_NAME}\r\n".encode()


def format_head(
    http_version: str,
    status: int,
    headers: list[tuple[str, str]],
    *,
    date: str,
    content_length: int | None,
    chunked: bool,
    keep_alive: bool,
) -> bytes:
    """Status line and header section, ending with the empty line.

    ``content_length`` is written when not None; ``chunked`` adds
    ``Transfer-Encoding: chunked``; ``Date`` and ``Server`` are added unless given.
    """
    parts = [status_line(http_version, status)]
    seen = 0
    cached = _FIELD_LINES.get
    for field in headers:
        entry = cached(field)
        line, kind = entry if entry is not None else _field_line(field)
        parts.append(line)
        seen |= kind
    if not seen & _DATE:
        parts.append(b"Date: %s\r\n" % date.encode("latin-1"))
    if not seen & _SERVER:
        parts.append(_SERVER_LINE)
    if content_length is not None:
        parts.append(b"Content-Length: %d\r\n" % content_length)
    elif chunked:
        parts.append(b"Transfer-Encoding: chunked\r\n")
    if not keep_alive:
        parts.append(b"Connection: close\r\n")
    elif http_version == "HTTP/1.0":
        parts.append(b"Connection: keep-alive\r\n")  # RFC 9112 §9.3: 1.0 opts in
    parts.append(b"\r\n")
    return b"".join(parts)


def encode_chunk(data: bytes) -> bytes:
    """One chunk of the chunked coding (RFC 9112 §7.1).

    Empty ``data`` encodes to nothing: a zero-size chunk is the last-chunk marker,
    and writing one early would end the body and desynchronise the connection.
    """
    if not data:
        return b""
    return b"%x\r\n%b\r\n" % (len(data), data)


def format_continue(http_version: str) -> bytes:
    """The interim ``100 Continue`` response (RFC 9110 §15.2.1)."""
    return status_line(http_version, 100) + b"\r\n"
