"""A minimal HTTP/1.1 response reader over a raw socket, for protocol-abuse tests.

Real clients hide what the tests need to see (interim 100 responses, exact
framing, whether the server closed), so these tests read bytes themselves.
"""

from __future__ import annotations

import select
import socket
import time
from dataclasses import dataclass

HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class RawResponse:
    """One response as it came off the wire; ``body`` is de-chunked."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw_head: bytes

    def header(self, name: str) -> str | None:
        """The first value of ``name`` (case-insensitive), or None."""
        name = name.lower()
        for field_name, value in self.headers:
            if field_name.lower() == name:
                return value
        return None

    def header_count(self, name: str) -> int:
        return sum(1 for field_name, _ in self.headers if field_name.lower() == name.lower())


class ResponseReader:
    """Reads consecutive responses from one socket (pipelining, 1xx, close)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> bool:
        """Read more bytes; False at end of stream."""
        data = self.sock.recv(65_536)
        if not data:
            return False
        self.buffer += data
        return True

    def _read_exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if not self._fill():
                raise ConnectionError(f"stream ended after {len(self.buffer)} of {count} bytes")
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def _read_line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) == -1:
            if not self._fill():
                raise ConnectionError("stream ended inside a line")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    def read_response(self, *, method: str = "GET") -> RawResponse:
        """The next response, interim ones included; ``method`` decides HEAD framing."""
        while (end := self.buffer.find(HEAD_END)) == -1:
            if not self._fill():
                raise ConnectionError(
                    f"stream ended before a response head: {bytes(self.buffer)!r}"
                )
        raw_head = bytes(self.buffer[:end])
        del self.buffer[: end + 4]
        status_line, *field_lines = raw_head.decode("latin-1").split("\r\n")
        version, status_text, *reason = status_line.split(" ", 2)
        assert version in ("HTTP/1.1", "HTTP/1.0"), status_line
        status = int(status_text)
        headers: list[tuple[str, str]] = []
        for line in field_lines:
            name, colon, value = line.partition(":")
            assert colon and name == name.strip(), f"malformed response field {line!r}"
            headers.append((name, value.strip()))
        response = RawResponse(status, reason[0] if reason else "", headers, b"", raw_head)
        body = self._read_body(response, method)
        return RawResponse(status, response.reason, headers, body, raw_head)

    def _read_body(self, response: RawResponse, method: str) -> bytes:
        # RFC 9112 §6.3, from the client's side.
        if method == "HEAD" or response.status < 200 or response.status in (204, 304):
            return b""
        encoding = response.header("transfer-encoding")
        if encoding is not None:
            assert encoding.lower() == "chunked", encoding
            return self._read_chunked()
        length = response.header("content-length")
        if length is not None:
            return self._read_exactly(int(length))
        while self._fill():
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self._read_line().split(b";")[0], 16)
            if size == 0:
                while self._read_line():  # trailer section
                    pass
                return b"".join(parts)
            parts.append(self._read_exactly(size))
            assert self._read_line() == b"", "chunk data longer than its size"

    def is_closed(self, timeout: float = 15.0) -> bool:
        """True if the server closes the connection within ``timeout`` (nothing else sent)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            readable, _, _ = select.select([self.sock], [], [], remaining)
            if not readable:
                return False
            try:
                data = self.sock.recv(65_536)
            except ConnectionResetError:
                return True
            if not data:
                return True
            self.buffer += data
            raise AssertionError(
                f"unexpected bytes while waiting for close: {bytes(self.buffer)!r}"
            )


def connect(host: str, port: int, timeout: float = 15.0) -> socket.socket:
    """A client socket with every blocking call bounded by ``timeout``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect((host, port))
    return sock
