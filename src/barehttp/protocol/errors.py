"""HTTP errors that carry the status the server must answer with."""

from __future__ import annotations

from typing import ClassVar


class HTTPError(Exception):
    """An error whose message is safe to show to the client.

    The server answers with ``status`` and the message; for protocol errors
    it closes the connection afterwards, since framing can no longer be trusted.
    """

    status: ClassVar[int] = 500
    reason: ClassVar[str] = "Internal Server Error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.reason)
        self.message = message or self.reason


class BadRequest(HTTPError):
    status = 400
    reason = "Bad Request"


class RequestTimeout(HTTPError):
    status = 408
    reason = "Request Timeout"


class ContentTooLarge(HTTPError):
    status = 413
    reason = "Content Too Large"


class URITooLong(HTTPError):
    status = 414
    reason = "URI Too Long"


class HeaderFieldsTooLarge(HTTPError):
    status = 431
    reason = "Request Header Fields Too Large"


class UnknownTransferCoding(HTTPError):
    status = 501
    reason = "Not Implemented"


class MethodNotImplemented(HTTPError):
    status = 501
    reason = "Not Implemented"


class ServiceUnavailable(HTTPError):
    status = 503
    reason = "Service Unavailable"


class VersionNotSupported(HTTPError):
    status = 505
    reason = "HTTP Version Not Supported"


class ExpectationFailed(HTTPError):
    status = 417
    reason = "Expectation Failed"


def format_error_body(error: HTTPError) -> bytes:
    """The plain-text body of an error response.

    Client errors say what was wrong; server errors say only their status, so
    nothing about the server's inside reaches the client.
    """
    if error.status >= 500 and error.status not in (501, 503, 505):
        return f"{error.status} {error.reason}\n".encode()
    return f"{error.status} {error.reason}: {error.message}\n".encode()
