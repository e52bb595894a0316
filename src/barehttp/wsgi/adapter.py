"""WSGIHandler: a server handler that runs a WSGI application (PEP 3333)."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import IO, BinaryIO
from wsgiref.types import WSGIApplication

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.memo import Memo
from barehttp.protocol.writer import has_body
from barehttp.server.handler import ClientDisconnected, Exchange
from barehttp.wsgi.environ import base_environ, build_environ
from barehttp.wsgi.file_wrapper import FileWrapper
from barehttp.wsgi.spool import spool_body

logger = logging.getLogger("barehttp.wsgi")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_OptExcInfo = ExcInfo | tuple[None, None, None]

# RFC 9110 §7.6.1 hop-by-hop fields: the server owns the connection, so an
# application may not set them (PEP 3333 §"Other HTTP Features").
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class WSGIError(HTTPError):
    """The application broke the WSGI contract; answered as a 500."""


class _Response:
    """What ``start_response`` recorded, and how much of it went out."""

    __slots__ = ("content_length", "headers", "headers_sent", "sent_bytes", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.content_length: int | None = None
        self.headers_sent = False
        self.sent_bytes = 0


# Status lines seen from applications: a handful in practice; bounded for odd ones.
_STATUS_CODES: Memo[str, int] = Memo(256)


def parse_status(status: str) -> int:
    """``"200 OK"`` → 200; PEP 3333 requires a three-digit code and a reason."""
    code_number = _STATUS_CODES.get(status)
    if code_number is not None:
        return code_number
    code = status[:3]
    if not (code.isdigit() and len(status) >= 4 and status[3] == " "):
        raise WSGIError(f"invalid WSGI status {status!r}")
    if code[0] == "1":
        # RFC 9110 §15.2: 1xx is interim; the server sends 100 Continue itself, and a
        # final 1xx would leave the client waiting for the real response (h11 refuses it).
        raise WSGIError(f"WSGI status {status!r} is not a final status")
    return _STATUS_CODES.put(status, int(code))


class WSGIHandler:
    """Runs ``app`` for every request; implements the server's ``Handler``."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        root_path: str = "",
        multiprocess: bool = False,
        spool_chunked_bodies: bool = False,
    ) -> None:
        self.app = app
        # Under a body cap, chunked bodies are read first (see spool.py): a 413 then
        # comes from the server, never from inside the application.
        self._spool_chunked_bodies = spool_chunked_bodies
        self._base = base_environ(multiprocess=multiprocess, root_path=root_path.rstrip("/"))

    def __call__(self, exchange: Exchange) -> None:
        response = _Response()
        environ = build_environ(exchange, self._base)

        def write(data: bytes) -> None:  # the legacy write() callable
            if not response.status:
                raise WSGIError("write() before start_response()")
            self._write(exchange, response, data)

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: _OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            if exc_info and exc_info[1] is not None:
                # PEP 3333: with exc_info after the headers went out, re-raise; the
                # server then cuts the connection since the response cannot be fixed.
                if response.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            elif response.status:
                raise WSGIError("start_response() called twice without exc_info")
            response.status = parse_status(status)
            response.headers, response.content_length = _check_headers(headers)
            return write

        spooled: IO[bytes] | None = None
        if self._spool_chunked_bodies and exchange.head.chunked:
            spooled, size = spool_body(exchange)  # over the cap: the server answers 413
            environ["wsgi.input"] = spooled
            environ["CONTENT_LENGTH"] = str(size)
        try:
            result = self.app(environ, start_response)
            try:
                self._send_result(exchange, response, result)
            finally:
                # PEP 3333: close() is called however the response ended, also when the
                # client went away or the application raised while iterating.
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except ClientDisconnected:
            raise  # the server closes the connection; nobody is left to answer
        except WSGIError as error:
            logger.error(
                "WSGI application error answering %s %s: %s",
                exchange.head.method,
                exchange.head.path,
                error,
            )
            raise  # answered 500 (or the connection cut if the head went out)
        except OSError as error:
            # The application's own OSError (a missing file, a refused database): a
            # bug to log, not a client that went away.
            logger.error(
                "application raised answering %s %s",
                exchange.head.method,
                exchange.head.path,
                exc_info=error,
            )
            raise HTTPError("Internal Server Error") from error
        finally:
            if spooled is not None:
                spooled.close()

    def _send_result(
        self, exchange: Exchange, response: _Response, result: Iterable[bytes]
    ) -> None:
        if (
            isinstance(result, FileWrapper)
            and _is_real_file(result.filelike)
            and response.status
            and not response.headers_sent
        ):
            self._send_file(exchange, response, result.filelike)
            return
        if isinstance(result, (list, tuple)) and not response.headers_sent:
            # The common case: the whole body is already in memory. One send().
            body = b"".join(result)
            if not response.status:
                raise WSGIError("application returned without calling start_response()")
            if response.content_length is None or response.content_length == len(body):
                try:
                    exchange.send_response(response.status, response.headers, body)
                except OSError as error:
                    raise _client_gone(error) from error
                return
            self._write(exchange, response, body)
        else:
            for data in result:
                if data:
                    self._write(exchange, response, data)
        if not response.status:
            raise WSGIError("application returned without calling start_response()")
        if not response.headers_sent:
            self._start(exchange, response, 0 if response.content_length is None else None)
        if (
            response.content_length is not None
            and response.sent_bytes < response.content_length
            # HEAD, 204 and 304 owe no body: their Content-Length describes the GET's.
            and has_body(exchange.head.method, response.status)
        ):
            # Fewer bytes than promised: only closing tells the client.
            logger.error("application sent less than its Content-Length")
            exchange.close_connection()
            return
        try:
            exchange.end()
        except OSError as error:
            raise _client_gone(error) from error

    def _start(self, exchange: Exchange, response: _Response, length: int | None) -> None:
        try:
            exchange.start_response(
                response.status,
                response.headers,
                response.content_length if response.content_length is not None else length,
            )
        except OSError as error:
            raise _client_gone(error) from error
        response.headers_sent = True

    def _write(self, exchange: Exchange, response: _Response, data: bytes) -> None:
        if not response.headers_sent:
            self._start(exchange, response, None)
        limit = response.content_length
        if limit is not None and response.sent_bytes + len(data) > limit:
            # More than promised: send what fits, then the connection must close.
            data = data[: limit - response.sent_bytes]
            exchange.close_connection()
            logger.error("application wrote more than its Content-Length")
        try:
            exchange.write(data)
        except OSError as error:
            raise _client_gone(error) from error
        response.sent_bytes += len(data)

    def _send_file(self, exchange: Exchange, response: _Response, file: BinaryIO) -> None:
        offset = file.tell()
        length = os.fstat(file.fileno()).st_size - offset
        if response.content_length is not None:
            length = min(length, response.content_length)
        response.content_length = length
        self._start(exchange, response, length)
        try:
            exchange.send_file(file, offset, length)
            response.sent_bytes = length
            exchange.end()
        except OSError as error:
            raise _client_gone(error) from error


# What a checked application header is: passed on, or the Content-Length (with its
# value). Applications send the same few pairs on every response, so each pair is
# checked once. Module-level like the writer's field lines, and bounded the same way.
_PASS = -1
HEADER_CACHE_MAX_ENTRIES = 4_096
_HEADER_KINDS: Memo[tuple[str, str], int] = Memo(HEADER_CACHE_MAX_ENTRIES)


def _header_kind(field: tuple[str, str]) -> int:
    """_PASS, or the Content-Length value; raises WSGIError for a forbidden field."""
    name, value = field
    if not isinstance(name, str) or not isinstance(value, str):
        raise WSGIError("WSGI header names and values must be str")
    lower = name.lower()
    if lower in HOP_BY_HOP:
        raise WSGIError(f"hop-by-hop header {name!r} is not allowed from a WSGI application")
    kind = _PASS
    if lower == "content-length":
        if not value.strip().isdigit():
            raise WSGIError(f"invalid Content-Length {value!r}")
        kind = int(value)
    return _HEADER_KINDS.put(field, kind)


def _check_headers(headers: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], int | None]:
    """Validate the application's headers; Content-Length is taken out for the server."""
    content_length: int | None = None
    checked: list[tuple[str, str]] = []
    known = _HEADER_KINDS.get
    for field in headers:
        try:
            kind = known(field)
        except TypeError:  # unhashable: not a (str, str) tuple
            raise WSGIError("WSGI headers must be (str, str) tuples") from None
        if kind is None:
            kind = _header_kind(field)
        if kind == _PASS:
            checked.append(field)
        else:
            content_length = kind
    return checked, content_length


def _client_gone(error: OSError) -> ClientDisconnected:
    """An `OSError` from the exchange's socket I/O is the client's connection failing."""
    return ClientDisconnected(f"client went away: {error}")


def _is_real_file(filelike: object) -> bool:
    """True for objects backed by an OS file, which sendfile can read."""
    if not isinstance(filelike, (io.BufferedReader, io.FileIO)):
        return False
    try:
        filelike.fileno()
        filelike.tell()
    except (OSError, ValueError):
        return False
    return True
