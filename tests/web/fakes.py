"""An in-memory Exchange for testing the web layer without sockets."""

from __future__ import annotations

from typing import BinaryIO

from barehttp.protocol.events import RequestHead
from barehttp.protocol.headers import Headers
from barehttp.protocol.writer import has_body
from barehttp.web.request import Request


class FakeExchange:
    """Implements ``barehttp.server.handler.Exchange`` and records what was sent.

    Like the real server it refuses out-of-order calls (``end()`` with nothing
    streaming does nothing, as there), adds Content-Length to complete responses
    (not to 1xx, 204, or a 304 without a body), and drops body bytes (not
    Content-Length) where RFC 9112 §6.3 has none: HEAD, 1xx, 204, 304.
    tests/web/test_exchange_conformance.py checks it against the real server.
    """

    def __init__(
        self,
        method: str = "GET",
        target: str = "/",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        chunked: bool = False,
        is_tls: bool = False,
        read_limit: int | None = None,
        read_error: Exception | None = None,
    ) -> None:
        path, _, query = target.partition("?")
        field_lines = [(name.lower(), value) for name, value in headers or []]
        content_length = None if chunked or not body else len(body)
        if content_length is not None:
            field_lines.append(("content-length", str(content_length)))
        self.head = RequestHead(
            method=method,
            target=target,
            path=path,
            query=query,
            http_version="HTTP/1.1",
            headers=Headers(field_lines),
            keep_alive=True,
            content_length=content_length,
            chunked=chunked,
            expects_continue=False,
        )
        self.client_address = ("192.0.2.7", 51234)
        self.server_address = ("127.0.0.1", 8000)
        self.is_tls = is_tls
        self.scheme = "https" if is_tls else "http"
        self._request_body = body
        self._read_limit = read_limit  # caps each read, like a socket delivering pieces
        self._read_error = read_error  # raised once the body bytes run out
        self.body_bytes_read = 0
        self.status: int | None = None
        self.response_headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.streamed = False
        self.ended = False
        self.connection_closed = False

    @property
    def headers_sent(self) -> bool:
        return self.status is not None

    def read_body(self, max_bytes: int = 65_536) -> bytes:
        if self._read_limit is not None:
            max_bytes = min(max_bytes, self._read_limit)
        start = self.body_bytes_read
        piece = self._request_body[start : start + max_bytes]
        if not piece and self._read_error is not None:
            raise self._read_error
        self.body_bytes_read += len(piece)
        return piece

    def send_response(self, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        self._start(status, headers)
        if not (status < 200 or status == 204 or (status == 304 and not body)):
            self.response_headers.append(("Content-Length", str(len(body))))
        self._append_body(body)
        self.ended = True

    def start_response(
        self, status: int, headers: list[tuple[str, str]], content_length: int | None = None
    ) -> None:
        self._start(status, headers)
        self.streamed = content_length is None and has_body(self.head.method, status)
        if status < 200 or status == 204:
            content_length = None
        if content_length is not None:
            self.response_headers.append(("Content-Length", str(content_length)))

    def write(self, data: bytes) -> None:
        if not self.headers_sent or self.ended:
            raise RuntimeError("write outside start_response/end")
        self._append_body(data)

    def send_file(self, file: BinaryIO, offset: int, count: int) -> None:
        file.seek(offset)
        self.write(file.read(count))

    def end(self) -> None:
        if self.headers_sent:  # before start_response, or after the end: nothing to end
            self.ended = True

    def close_connection(self) -> None:
        self.connection_closed = True

    # Inspection helpers for tests.

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.response_headers if key.lower() == name.lower()]

    def _start(self, status: int, headers: list[tuple[str, str]]) -> None:
        if self.headers_sent:
            raise RuntimeError("response already started")
        self.status = status
        self.response_headers = list(headers)

    def _append_body(self, data: bytes) -> None:
        assert self.status is not None
        if has_body(self.head.method, self.status):
            self.chunks.append(data)


def make_request(
    method: str = "GET",
    target: str = "/",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    **request_options: int,
) -> Request:
    return Request(FakeExchange(method, target, headers, body), **request_options)
