"""FileResponse and serve_file: one file, with validators, conditional requests and ranges.

Order of evaluation follows RFC 9110 §13.2.2: If-Match, If-Unmodified-Since,
If-None-Match, If-Modified-Since, then Range with If-Range. Only single byte
ranges are served as 206; a request for several ranges gets the whole file as
200, which §14.2 allows ("a server MAY ignore the Range header field"), so no
multipart/byteranges bodies are ever built.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import time
from typing import BinaryIO, Literal

from barehttp.protocol.conditional import (
    is_if_range_current,
    matches_etag,
    parse_http_date,
    parse_range,
)
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
    if if_range is not None and not is_if_range_current(if_range, etag, modified):
        return None  # §13.1.5: the client's copy is stale, so send it the whole file
    ranges = parse_range(value)
    if ranges is None or len(ranges) > 1:
        return None  # malformed: ignored (§14.2); several: whole file (module docstring)
    resolved = ranges[0].resolve(size)
    return "unsatisfiable" if resolved is None else resolved
