"""HTTP errors raised by the web layer: routing and content negotiation."""

from __future__ import annotations

from collections.abc import Iterable

from barehttp.protocol.errors import HTTPError


class NotFound(HTTPError):
    status = 404
    reason = "Not Found"


class MethodNotAllowed(HTTPError):
    """405; ``allowed_methods`` becomes the ``Allow`` header (RFC 9110 §15.5.6 requires it)."""

    status = 405
    reason = "Method Not Allowed"

    def __init__(self, allowed_methods: Iterable[str], message: str = "") -> None:
        super().__init__(message)
        self.allowed_methods: tuple[str, ...] = tuple(sorted(set(allowed_methods)))


class UnsupportedMediaType(HTTPError):
    status = 415
    reason = "Unsupported Media Type"
