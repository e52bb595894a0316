"""Events the request parser produces."""

from __future__ import annotations

from dataclasses import dataclass

from barehttp.protocol.headers import Headers


@dataclass(slots=True)
class RequestHead:
    """A parsed request line and header section.

    ``target`` is the request-target as sent (latin-1 decoded); ``path`` and
    ``query`` are its parts, still percent-encoded. For absolute-form targets
    (RFC 9112 §3.2.2) ``path`` holds only the path component.
    """

    method: str
    target: str
    path: str
    query: str
    http_version: str  # "HTTP/1.1" or "HTTP/1.0"
    headers: Headers
    keep_alive: bool  # RFC 9112 §9.3: what the client asked for
    content_length: int | None  # None when chunked or no body
    chunked: bool
    expects_continue: bool  # RFC 9110 §10.1.1


@dataclass(slots=True)
class BodyData:
    """A piece of the request body (de-chunked)."""

    data: bytes


@dataclass(slots=True)
class EndOfMessage:
    """The request is complete; ``trailers`` holds chunked trailer fields, if any."""

    trailers: Headers


Event = RequestHead | BodyData | EndOfMessage
