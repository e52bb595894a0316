"""FileResponse and serve_file: one file, with validators, conditional requests and ranges.

Order of evaluation follows RFC 9110 §13.2.2: If-Match, If-Unmodified-Since,
If-None-Match, If-Modified-Since, then Range with If-Range. Only single byte
ranges are served as 206; a request for several ranges gets the whole file as
200, which §14.2 allows ("a server MAY ignore the Range header field"), so no
multipart/byteranges bodies are ever built.
"""

from __future__ import annotations

import email.utils
import hashlib
import mimetypes
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC
from typing import BinaryIO, Literal

from barehttp.protocol.writer import format_http_date
from barehttp.server.handler import Exchange
from barehttp.web.media_types import COMMON_MEDIA_TYPES, XML_CHARSET_TYPES
from barehttp.web.request import Request
from barehttp.web.response import Response

DEFAULT_CACHE_CONTROL = "public, max-age=3600"
DEFAULT_MEDIA_TYPE = "application/octet-stream"  # never lets a browser guess (with nosniff)

# Python's built-in table only, not /etc/mime.types: the same file gets the same
# type on every machine. These entries fix or add what the built-in table lacks.
_MIME_TYPES = mimetypes.MimeTypes()
_MEDIA_TYPE_OVERRIDES = {
    **COMMON_MEDIA_TYPES,
    ".js": "text/javascript",  # RFC 9239 §6: the one registered JavaScript type
    ".mjs": "text/javascript",
    ".md": "text/markdown",
    ".webp": "image/webp",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}
# A compressed file is served as itself; "Content-Encoding: gzip" would make the
# browser unpack it and save something other than the file on disk.
_COMPRESSED_MEDIA_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
}
# Text-like types that get "; charset=utf-8". application/json does not: RFC 8259
# §11 defines no charset parameter (JSON is always UTF-8).
_CHARSET_TYPES = frozenset(
    {"application/javascript", "application/xml", "image/svg+xml", *XML_CHARSET_TYPES}
)

# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, one member of a list.
_ENTITY_TAG_MEMBER = re.compile(r'[ \t]*(?:(W/)?("[\x21\x23-\x7e\x80-\xff]*"))?[ \t]*(,|\Z)')
# RFC 9110 §5.6.7: IMF-fixdate, and the obsolete rfc850-date and asctime-date.
_HTTP_DATE = re.compile(
    r"[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
    r"|[A-Z][a-z]{5,8}, [0-9]{2}-[A-Z][a-z]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
    r"|[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}"
)
# RFC 9110 §14.1.1: int-range = first-pos "-" [ last-pos ]; suffix-range = "-" suffix-length.
_RANGE_SPEC = re.compile(r"[ \t]*([0-9]*)-([0-9]*)[ \t]*")


def guess_media_type(name: str) -> str:
    """The Content-Type for a file name, with ``charset=utf-8`` for text types."""
    suffix = os.path.splitext(name)[1].lower()
    media_type = _MEDIA_TYPE_OVERRIDES.get(suffix)
    if media_type is None:
        guessed, encoding = _MIME_TYPES.guess_type(name, strict=False)
        if encoding is not None:
            media_type = _COMPRESSED_MEDIA_TYPES.get(encoding, DEFAULT_MEDIA_TYPE)
        else:
            media_type = guessed or DEFAULT_MEDIA_TYPE
    if media_type.startswith("text/") or media_type in _CHARSET_TYPES:
        media_type += "; charset=utf-8"
    return media_type


def make_etag(stat: os.stat_result) -> str:
    """A strong ETag (RFC 9110 §8.8.3) from inode, size and mtime in nanoseconds.

    Hashed, so the inode number (a detail of the server's disk) is not shown.
    """
    identity = f"{stat.st_ino}-{stat.st_size}-{stat.st_mtime_ns}".encode()
    return '"' + hashlib.blake2b(identity, digest_size=12).hexdigest() + '"'


def validator_fields(etag: str, modified: int, cache_control: str | None) -> list[tuple[str, str]]:
    """ETag, Last-Modified and (when set) Cache-Control: the fields a 304 repeats."""
    fields = [("ETag", etag), ("Last-Modified", format_http_date(modified))]
    if cache_control:
        fields.append(("Cache-Control", cache_control))
    return fields


def file_fields(media_type: str, validators: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The fields of a 200 for a whole file: its type, Accept-Ranges, nosniff, validators."""
    return [
        ("Content-Type", media_type),
        ("Accept-Ranges", "bytes"),
        ("X-Content-Type-Options", "nosniff"),
        *validators,
    ]


@dataclass(frozen=True, slots=True)
class EntityTag:
    opaque_tag: str  # with its double quotes
    is_weak: bool


def parse_entity_tags(value: str) -> list[EntityTag] | None:
    """The members of an If-Match / If-None-Match list; None if it is malformed."""
    tags: list[EntityTag] = []
    position = 0
    while position < len(value):
        member = _ENTITY_TAG_MEMBER.match(value, position)
        if member is None:
            return None
        if member.group(2):
            tags.append(EntityTag(member.group(2), is_weak=bool(member.group(1))))
        position = member.end()
        if not member.group(3):  # end of the field value
            break
    return tags


def matches_etag(field_value: str, etag: str, *, weak: bool) -> bool:
    """Whether an If-Match (``weak=False``) or If-None-Match (``weak=True``) field matches.

    RFC 9110 §13.1.1 uses the strong comparison, §13.1.2 the weak one (§8.8.3.2);
    "*" matches any current representation. A malformed list matches nothing.
    """
    if field_value.strip(" \t") == "*":
        return True
    ours = EntityTag(etag.removeprefix("W/"), is_weak=etag.startswith("W/"))
    for tag in parse_entity_tags(field_value) or []:
        if tag.opaque_tag == ours.opaque_tag and (weak or not (tag.is_weak or ours.is_weak)):
            return True
    return False


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch for an HTTP-date (RFC 9110 §5.6.7), or None if invalid."""
    value = value.strip(" \t")
    if _HTTP_DATE.fullmatch(value) is None:  # parsedate alone accepts far too much
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # asctime and "-0000" carry no zone: they mean GMT
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


@dataclass(frozen=True, slots=True)
class ByteRange:
    """One range-spec: ``first-last``, ``first-`` (``last`` None) or ``-last`` (``first`` None)."""

    first: int | None
    last: int | None

    def resolve(self, size: int) -> tuple[int, int] | None:
        """Inclusive (start, end) offsets within ``size`` bytes; None if unsatisfiable."""
        if self.first is None:  # suffix-range: the last `last` bytes (§14.1.1)
            assert self.last is not None
            if self.last == 0:
                return None
            return max(0, size - self.last), size - 1
        if self.first >= size:
            return None
        end = size - 1 if self.last is None else min(self.last, size - 1)
        return self.first, end


def parse_range(value: str) -> list[ByteRange] | None:
    """The byte ranges of a Range field (RFC 9110 §14.2); None to ignore the field.

    Another unit, a malformed spec or ``last < first`` make the field invalid,
    and §14.2 says an invalid Range is ignored, not refused.
    """
    unit, equals, range_set = value.partition("=")
    if not equals or unit.lower() != "bytes":  # §14.1: range units are case-insensitive
        return None
    ranges: list[ByteRange] = []
    for element in range_set.split(","):
        if not element.strip(" \t"):
            continue  # §5.6.1: empty list elements are allowed and ignored
        spec = _RANGE_SPEC.fullmatch(element)
        if spec is None or not (spec.group(1) or spec.group(2)):
            return None
        try:
            first = int(spec.group(1)) if spec.group(1) else None
            last = int(spec.group(2)) if spec.group(2) else None
        except ValueError:  # more digits than int() accepts
            return None
        if first is not None and last is not None and last < first:
            return None
        ranges.append(ByteRange(first, last))
    return ranges or None


class FileResponse(Response):
    """``count`` bytes of an open file from ``offset``, sent without reading it into memory.

    The response owns ``file`` and closes it once sent, or once sending failed
    (e.g. the client went away). For HEAD nothing is read from the file.
    """

    def __init__(
        self,
        file: BinaryIO,
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
        *,
        offset: int = 0,
        count: int | None = None,
    ) -> None:
        super().__init__(b"", status, headers)
        self.file = file
        self.offset = offset
        self.count = os.fstat(file.fileno()).st_size - offset if count is None else count

    def send(self, exchange: Exchange) -> None:
        try:
            exchange.start_response(self.status, self.headers, content_length=self.count)
            if exchange.head.method != "HEAD":
                exchange.send_file(self.file, self.offset, self.count)
            exchange.end()
        finally:
            self.file.close()


class HeadOnlyResponse(Response):
    """A status and fields with neither body nor Content-Length (304, RFC 9110 §15.4.5).

    ``send_response`` would add ``Content-Length: 0``, which §8.6 forbids in a
    304 unless the file is empty.
    """

    def send(self, exchange: Exchange) -> None:
        exchange.start_response(self.status, self.headers)
        exchange.end()


def serve_file(
    request: Request,
    file: BinaryIO,
    *,
    media_type: str | None = None,
    cache_control: str | None = DEFAULT_CACHE_CONTROL,
    stat: os.stat_result | None = None,
) -> Response:
    """Answer a GET or HEAD with an open regular file, honouring validators and Range.

    Takes ownership of ``file``: it is closed here when no body is sent, or by the
    returned :class:`FileResponse` once sent. ``media_type`` defaults to a guess
    from ``file.name``; ``stat`` saves an ``fstat`` when the caller has one.
    """
    try:
        if stat is None:
            stat = os.fstat(file.fileno())
        if media_type is None:
            name = file.name if isinstance(file.name, str) else ""
            media_type = guess_media_type(name)
        response = _respond(request, file, stat, media_type, cache_control)
    except BaseException:
        file.close()
        raise
    if not isinstance(response, FileResponse):
        file.close()
    return response


def _respond(
    request: Request,
    file: BinaryIO,
    stat: os.stat_result,
    media_type: str,
    cache_control: str | None,
) -> Response:
    size = stat.st_size
    etag = make_etag(stat)
    # RFC 9110 §8.8.2.1: never a modification time later than the response's Date.
    modified = min(int(stat.st_mtime), int(time.time()))
    validators = validator_fields(etag, modified, cache_control)
    headers = request.headers

    precondition_failed = _check_preconditions(request, etag, modified)
    if precondition_failed is not None:
        return precondition_failed
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        # §13.1.2: weak comparison; when present, If-Modified-Since is ignored (§13.1.3).
        if matches_etag(if_none_match, etag, weak=True):
            return HeadOnlyResponse(b"", 304, validators)
    else:
        since = parse_http_date(headers.get("if-modified-since") or "")
        if since is not None and modified <= since:
            return HeadOnlyResponse(b"", 304, validators)

    headers_out = file_fields(media_type, validators)
    byte_range = _select_range(request, etag, modified, size)
    if byte_range is None:
        return FileResponse(file, 200, headers_out, offset=0, count=size)
    if byte_range == "unsatisfiable":
        refused = [
            ("Content-Range", f"bytes */{size}"),  # §15.5.17: the current length
            ("Accept-Ranges", "bytes"),
            ("X-Content-Type-Options", "nosniff"),
        ]
        return Response.text("416 Range Not Satisfiable\n", 416, refused)
    start, end = byte_range
    headers_out.append(("Content-Range", f"bytes {start}-{end}/{size}"))
    return FileResponse(file, 206, headers_out, offset=start, count=end - start + 1)


def _check_preconditions(request: Request, etag: str, modified: int) -> Response | None:
    """412 when If-Match or If-Unmodified-Since fails (§13.2.2 steps 1 and 2)."""
    headers = request.headers
    if_match = headers.get("if-match")
    if if_match is not None:
        failed = not matches_etag(if_match, etag, weak=False)  # §13.1.1: strong comparison
    else:
        since = parse_http_date(headers.get("if-unmodified-since") or "")
        failed = since is not None and modified > since
    if not failed:
        return None
    return Response.text("412 Precondition Failed\n", 412, [("ETag", etag)])


def _select_range(
    request: Request, etag: str, modified: int, size: int
) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """The (start, end) to send as 206, "unsatisfiable" for 416, or None for the whole file."""
    value = request.headers.get("range")
    # §14.2: Range is defined for GET only; HEAD describes the whole file.
    if value is None or request.method != "GET" or size == 0:
        # A zero-length file has no byte to point at: "bytes 0-0/0" cannot be written.
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and not _is_if_range_current(if_range, etag, modified):
        return None  # §13.1.5: the client's copy is stale, so send it the whole file
    ranges = parse_range(value)
    if ranges is None or len(ranges) > 1:
        return None  # malformed: ignored (§14.2); several: whole file (module docstring)
    resolved = ranges[0].resolve(size)
    return "unsatisfiable" if resolved is None else resolved


def _is_if_range_current(value: str, etag: str, modified: int) -> bool:
    """RFC 9110 §13.1.5: a strong ETag match, or exactly the Last-Modified date."""
    value = value.strip(" \t")
    if value.startswith(('"', "W/")):
        return not value.startswith("W/") and value == etag and not etag.startswith("W/")
    return parse_http_date(value) == modified
