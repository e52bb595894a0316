"""Transport: the one owner of a connection's socket, for sending and for bounded reads.

Every way a response leaves goes through here: a plain send, a gather write, a
file (sendfile on a plain socket, copied on a TLS one), and the hand-over of a
response's last bytes to an outbox when the client reads slowly (see outbox.py).
Reads are bounded blocking calls: ``SO_RCVTIMEO`` on a plain socket, a Python
timeout on a TLS one (see ``bounded_read``).

The socket is blocking with bounded waits, except inside ``send_final`` and while
an outbox is being written by the reactor.
"""

from __future__ import annotations

import collections
import logging
import math
import os
import select
import socket
import ssl
from collections.abc import Callable
from typing import BinaryIO, TypeVar

from barehttp.protocol.limits import Limits
from barehttp.server.outbox import FileRange, Outbox, Part

logger = logging.getLogger("barehttp.server")
_T = TypeVar("_T")
_MSG_MORE = getattr(socket, "MSG_MORE", 0)  # Linux; elsewhere head and file go apart
_MSG_DONTWAIT = socket.MSG_DONTWAIT
# What a recv() bounded by SO_RCVTIMEO raises when the time is up (plain or TLS).
EAGAIN_ERRORS = (BlockingIOError, TimeoutError, ssl.SSLWantReadError)


class Transport:
    """Sends and reads on one client socket; owns the socket and its outbox."""

    __slots__ = ("_clock", "_limits", "fd", "is_tls", "outbox", "sock")

    def __init__(self, sock: socket.socket, limits: Limits, clock: Callable[[], float]) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.is_tls = isinstance(sock, ssl.SSLSocket)
        self._limits = limits
        self._clock = clock
        # The unsent end of a response, written by the reactor (see outbox.py).
        self.outbox: Outbox | None = None
        if self.is_tls:
            sock.settimeout(limits.write_timeout_s)

    # -- reading ----------------------------------------------------------------

    def read(self) -> bytes:
        """One bounded blocking read (EAGAIN_ERRORS when nothing came in time)."""
        if self.is_tls:
            return self.bounded_read(lambda: self.sock.recv(self._limits.recv_bytes))
        return self.sock.recv(self._limits.recv_bytes)

    def read_now(self) -> bytes | None:
        """What a plain socket holds now, without waiting; None if nothing."""
        try:
            return self.sock.recv(self._limits.recv_bytes, _MSG_DONTWAIT)
        except BlockingIOError:
            return None

    def bounded_read(self, operation: Callable[[], _T]) -> _T:
        """Run a TLS read with the TLS read bound, then restore the write timeout.

        SO_RCVTIMEO does not bound reads on an SSLSocket (the ssl module retries
        a blocking socket's EAGAIN forever), so TLS sockets use Python timeouts:
        short for reads, so idle clients get parked; long for writes, since the
        timeout of a TLS send is per record and a slow reader is not a dead one.
        """
        limits = self._limits
        self.sock.settimeout(limits.tls_read_timeout_s)
        try:
            return operation()
        finally:
            self.sock.settimeout(limits.write_timeout_s)

    def handshake(self, client_ip: str) -> bool:
        """Run (or go on with) the TLS handshake; False if it failed (logged). Raises
        SSLWantReadError when the client's next bytes are not here yet: park."""
        sock = self.sock
        assert isinstance(sock, ssl.SSLSocket)
        try:
            self.bounded_read(sock.do_handshake)
        except ssl.SSLError as error:
            if isinstance(error, ssl.SSLWantReadError):
                raise
            logger.debug("TLS handshake failed from %s: %s", client_ip, error)
            return False
        return True

    def has_tls_bytes_now(self) -> bool:
        """True if a TLS read would not wait: decrypted bytes wait inside the SSL
        object, where epoll cannot see them, or the socket is readable."""
        sock = self.sock
        assert isinstance(sock, ssl.SSLSocket)
        if sock.pending():
            return True
        poller = select.poll()  # poll, not select: fds past 1024 are normal here
        poller.register(self.fd, select.POLLIN)
        return bool(poller.poll(0))

    # -- sending ------------------------------------------------------------------

    def sendall(self, data: bytes, flags: int = 0) -> None:
        """Send ``data`` with bounded blocking waits (SO_SNDTIMEO / TLS timeout)."""
        self.sock.sendall(data, flags)

    def send_or_queue(self, data: bytes) -> None:
        """Send ``data``, or queue it behind an outbox already handed over."""
        if self.outbox is not None:
            self.outbox.append(data)
        else:
            self.sock.sendall(data)

    def send_last(self, head: bytes, body: bytes) -> None:
        """Send a response's last bytes: what the client cannot take at once goes to
        send_final(), and to the reactor if the client is slow (see outbox.py). Same
        system calls as a blocking send when it can."""
        if self.is_tls:  # no MSG_DONTWAIT nor sendmsg on an SSLSocket
            parts: collections.deque[Part] = collections.deque([memoryview(head)])
            if body:
                parts.append(memoryview(body))
            self.send_final(parts)
            return
        sock = self.sock
        if len(body) <= self._limits.single_send_max_bytes:
            data = head + body if body else head
            try:
                sent = sock.send(data, _MSG_DONTWAIT)
            except BlockingIOError:
                sent = 0
            if sent != len(data):
                self.send_final(collections.deque([memoryview(data)[sent:]]))
            return
        # Gather write: head and body in one system call, without copying.
        try:
            sent = sock.sendmsg([head, body], (), _MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent != len(head) + len(body):
            parts = collections.deque()
            if sent < len(head):
                parts.append(memoryview(head)[sent:])
                sent = len(head)
            parts.append(memoryview(body)[sent - len(head) :])
            self.send_final(parts)

    def send_body_part(self, head: bytes, body: bytes) -> None:
        """Send a held-back head (maybe empty) and a body part that is not the last."""
        if head and len(body) <= self._limits.single_send_max_bytes:
            self.sock.sendall(head + body)
        else:
            if head:
                self.sock.sendall(head)
            self.sock.sendall(body)

    def send_file(
        self, prefix: bytes, file: BinaryIO, offset: int, count: int, *, last: bool
    ) -> None:
        """Send ``prefix`` then ``count`` bytes of ``file`` from ``offset``; ``last``:
        they end the response, so a slow reader gets them from the reactor."""
        sock = self.sock
        if self.is_tls:
            if last:
                parts: collections.deque[Part] = collections.deque()
                if prefix:
                    parts.append(memoryview(prefix))
                parts.append(FileRange(file.fileno(), offset, count))
                self.send_final(parts)
                return
            if prefix:
                sock.sendall(prefix)
            self._copy_file(file, offset, count)
            return
        if prefix:
            # MSG_MORE: the kernel holds these bytes to fill the first segment
            # with file data, as nginx's tcp_nopush does.
            sock.sendall(prefix, _MSG_MORE)
        if last:
            self.send_final(collections.deque([FileRange(file.fileno(), offset, count)]))
            return
        self._sendfile(file, offset, count)

    def _sendfile(self, file: BinaryIO, offset: int, count: int) -> None:
        """Zero-copy with os.sendfile; SO_SNDTIMEO bounds each stalled call."""
        out_fd = self.fd
        in_fd = file.fileno()
        while count > 0:
            try:
                sent = os.sendfile(out_fd, in_fd, offset, count)
            except BlockingIOError:
                raise TimeoutError("client stopped reading") from None
            if sent == 0:
                raise OSError("file ended before the promised length")
            offset += sent
            count -= sent

    def _copy_file(self, file: BinaryIO, offset: int, count: int) -> None:
        chunk_bytes = self._limits.send_file_chunk_bytes
        file.seek(offset)
        while count > 0:
            data = file.read(min(chunk_bytes, count))
            if not data:
                raise OSError("file ended before the promised length")
            self.sock.sendall(data)
            count -= len(data)

    def send_final(self, parts: collections.deque[Part]) -> None:
        """Send a response's last bytes; what the client has not taken after
        ``write_handover_s`` of a full socket buffer goes to ``self.outbox``.

        The socket is non-blocking only inside this call: the request body may
        still be read (drained) after it, with the usual bounded blocking reads.
        """
        outbox = Outbox(parts)
        sock = self.sock
        deadline = 0.0
        poller: select.poll | None = None
        sock.setblocking(False)
        try:
            while True:
                outbox.send_available(sock)
                if outbox.is_empty:
                    return
                now = self._clock()
                if not deadline:
                    deadline = now + self._limits.write_handover_s
                    poller = select.poll()
                    poller.register(self.fd, select.POLLOUT)
                assert poller is not None
                if now >= deadline or not poller.poll(math.ceil((deadline - now) * 1000)):
                    outbox.keep_files_open()
                    self.outbox = outbox
                    return
        finally:
            self.restore_blocking()

    def write_more(self) -> int:
        """Reactor thread: send what the client makes room for; the bytes sent."""
        outbox = self.outbox
        assert outbox is not None
        return outbox.send_available(self.sock)

    @property
    def has_unsent(self) -> bool:
        return self.outbox is not None and not self.outbox.is_empty

    # -- modes and closing ------------------------------------------------------

    def drop_incoming(self, window_s: float) -> None:
        """Half-close, then read and drop what the client sends for at most
        ``window_s`` and ``max_body_bytes``: the "lingering close" of Apache and nginx.

        Closing a socket with unread request bytes makes the kernel send RST, and
        the client may discard our response with it (a 413 for a large upload, say).
        """
        limits = self._limits
        clock = self._clock
        deadline = clock() + window_s
        dropped = 0
        sock = self.sock
        try:
            sock.shutdown(socket.SHUT_WR)
            while dropped <= limits.max_body_bytes and clock() < deadline:
                try:
                    data = sock.recv(limits.recv_bytes)  # each wait bounded by SO_RCVTIMEO
                except EAGAIN_ERRORS:
                    continue  # quiet for linger_s: the window may not be over yet
                if not data:
                    break
                dropped += len(data)
        except OSError:
            pass

    def set_nonblocking(self) -> None:
        self.sock.setblocking(False)

    def restore_blocking(self) -> None:
        """Back to bounded blocking calls: SO_RCVTIMEO/SO_SNDTIMEO on a plain socket,
        a Python timeout on a TLS one (see bounded_read)."""
        if self.is_tls:
            self.sock.settimeout(self._limits.write_timeout_s)
        else:
            self.sock.setblocking(True)

    def drop_outbox(self) -> None:
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None

    def close(self) -> None:
        try:
            self.drop_outbox()
        finally:
            self.sock.close()
