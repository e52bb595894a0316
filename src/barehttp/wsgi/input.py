"""wsgi.input: the request body as a stream, read from the socket on demand."""

from __future__ import annotations

from collections.abc import Iterator

from barehttp.protocol.limits import Limits
from barehttp.server.handler import ClientDisconnected, Exchange

# Bytes asked of the connection at a time when the application reads "everything":
# the server's recv size.
READ_BLOCK_BYTES = Limits().recv_bytes


class WSGIInput:
    """A file-like request body (PEP 3333 §"Input and Error Streams").

    Nothing is read before the application asks, so ``100 Continue`` goes out
    only on the first read (for a body over ``body_prebuffer_bytes``: the server
    gathers a smaller one before the app runs), and a body is never held whole:
    ``read()`` without a size returns what is left, which the parser already
    bounds by ``max_body_bytes``. Past the end every read returns ``b""``.
    """

    __slots__ = ("_buffer", "_exchange", "_finished")

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        # bytearray: appends are amortised O(1) and CPython deletes from the front
        # without moving the rest, so large bodies are not copied over and over.
        self._buffer = bytearray()
        self._finished = False

    def _fill(self) -> bool:
        """Append the next piece of the body to the buffer; False at the end."""
        if self._finished:
            return False
        try:
            data = self._exchange.read_body(READ_BLOCK_BYTES)
        except OSError as error:  # the client's socket, not the application's doing
            raise ClientDisconnected(f"client went away mid-body: {error}") from error
        if not data:
            self._finished = True
            return False
        self._buffer += data
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            while self._fill():
                pass
            size = len(self._buffer)
        else:
            while len(self._buffer) < size and self._fill():
                pass
        return self._take(size)

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        while True:
            newline = self._buffer.find(b"\n")
            if newline != -1:
                end = newline + 1
                break
            if 0 <= limit <= len(self._buffer) or not self._fill():
                end = len(self._buffer)
                break
        if 0 <= limit < end:
            end = limit
        return self._take(end)

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line
