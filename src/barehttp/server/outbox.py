"""Outbox: the last bytes of a response, kept for a client that reads slowly.

A worker writes a response while its client takes the bytes. When the client's
socket buffer stays full for ``linger_s`` (a slow reader, or a large file), the
rest of the response — bytes, or a range of an open file — goes into an Outbox,
and the reactor sends it as the client makes room. So a slow reader holds a file
descriptor and a little memory, as with nginx, never a worker thread.

Only a response's *final* bytes are handed over this way (a complete response,
or a file that completes a body of known length): nothing else is written to
the connection after them, so the worker is free to go.
"""

from __future__ import annotations

import collections
import os
import socket
import ssl
from dataclasses import dataclass


@dataclass(slots=True)
class FileRange:
    """``count`` bytes of the open file ``fd`` from ``offset``, sent with sendfile."""

    fd: int
    offset: int
    count: int
    owned: bool = False  # a dup()ed descriptor this outbox must close


Part = memoryview | FileRange

# What a non-blocking send raises when the socket has no room (plain or TLS; a TLS
# write may also need to read first, in which case it is retried later too).
_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError)
# TLS sends at most one record per call: bounded work per call on the reactor thread,
# and a write interrupted by a full socket is retried with exactly the same bytes, as
# OpenSSL requires (it does not do partial writes for Python's sockets).
TLS_RECORD_BYTES = 16_384


class Outbox:
    """Parts still to be sent, in order; all sends are non-blocking."""

    __slots__ = ("parts",)

    def __init__(self, parts: collections.deque[Part]) -> None:
        self.parts = parts

    @property
    def is_empty(self) -> bool:
        return not self.parts

    def send_available(self, sock: socket.socket) -> int:
        """Send what the socket takes now without waiting; the byte count sent.

        ``sock`` must be non-blocking (sendfile has no MSG_DONTWAIT). OSError
        other than "would block" means the client is gone: the caller closes.
        A TLS socket gets file parts read into memory (no sendfile through TLS).
        """
        parts = self.parts
        out_fd = sock.fileno()
        is_tls = isinstance(sock, ssl.SSLSocket)
        total = 0
        while parts:
            part = parts[0]
            try:
                if isinstance(part, memoryview):
                    sent = sock.send(part[:TLS_RECORD_BYTES] if is_tls else part)
                    if sent == len(part):
                        parts.popleft()
                    else:
                        parts[0] = part[sent:]
                elif is_tls:
                    self._read_ahead(part)
                    continue
                else:
                    sent = os.sendfile(out_fd, part.fd, part.offset, part.count)
                    if sent == 0:
                        raise OSError("file ended before the promised length")
                    part.offset += sent
                    part.count -= sent
                    if part.count == 0:
                        parts.popleft()
                        if part.owned:
                            os.close(part.fd)
            except _WOULD_BLOCK:
                return total
            total += sent
        return total

    def _read_ahead(self, part: FileRange) -> None:
        """Put the next record's worth of the file part before it, as bytes."""
        data = os.pread(part.fd, min(TLS_RECORD_BYTES, part.count), part.offset)
        if not data:
            raise OSError("file ended before the promised length")
        part.offset += len(data)
        part.count -= len(data)
        if part.count == 0:
            self.parts.popleft()
            if part.owned:
                os.close(part.fd)
        self.parts.appendleft(memoryview(data))

    def keep_files_open(self) -> None:
        """Own a descriptor for every file part: the handler closes its file when it returns."""
        for part in self.parts:
            if isinstance(part, FileRange) and not part.owned:
                part.fd = os.dup(part.fd)
                part.owned = True

    def append(self, data: bytes) -> None:
        self.parts.append(memoryview(data))

    def close(self) -> None:
        """Drop what was not sent, closing owned file descriptors."""
        for part in self.parts:
            if isinstance(part, FileRange) and part.owned:
                os.close(part.fd)
        self.parts.clear()
