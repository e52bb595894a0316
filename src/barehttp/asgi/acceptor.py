"""Acceptor: takes connections off one listening socket for the event loop.

asyncio's ``create_server`` accepts a batch of connections and builds each one's
transport in a task of its own; a drain that starts meanwhile cannot see those
connections, and closing the loop cancels them, resetting requests that clients
already sent (a recycled or reloaded worker would refuse them). Here each
accepted socket is tracked until its transport exists, so a drain first waits
for them (``settle``), then treats them like every other connection.

On a TLS listener, the first byte is peeked before the handshake: a client
speaking plain HTTP gets the threaded server's readable 400 (plain_http.py).

Descriptors: sockets still being set up (waiting for their first byte, in a TLS
handshake) count against ``max_connections`` like open connections, and one over
the cap is answered 503 and closed at once, as the threaded server does. Since
``max_connections`` is fitted under the open files limit (descriptors.py), a
burst of silent clients cannot run the process out of descriptors (EMFILE).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable

from barehttp.asgi.plain_http import PlainHttpRefusal
from barehttp.protocol.limits import Limits
from barehttp.server.listener import socket_address
from barehttp.server.plain_http import is_plain_http, plain_http_answer

logger = logging.getLogger("barehttp.asgi")

# Connections taken per readiness event, so one busy listener cannot starve the loop.
ACCEPT_BATCH = 64
# Over max_connections: answered, then closed (RFC 9110 §15.6.4). No Date: a 5xx may
# omit it (§6.6.1). On a TLS listener the connection is closed without a word.
OVER_CAPACITY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)
# After the process ran out of descriptors (EMFILE), accepting resumes this much later.
ACCEPT_RETRY_S = 1.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Acceptor:
    def __init__(
        self,
        listener: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        *,
        ssl_context: ssl.SSLContext | None,
        limits: Limits,
        open_connections: Callable[[], int],
        plain_http_port: int | None = None,
    ) -> None:
        self._listener = listener
        self._factory = protocol_factory
        self._ssl_context = ssl_context
        self._limits = limits
        self._plain_http_port = plain_http_port  # named in the 400 to plain-HTTP clients
        self._loop = asyncio.get_running_loop()
        self._pending: set[asyncio.Task[object]] = set()
        # TLS connections whose first byte has not come: their give-up timers.
        self._sniffing: dict[socket.socket, asyncio.TimerHandle] = {}
        self._open_connections = open_connections
        self._closed = False
        self._reading = False

    def start(self) -> None:
        self._listener.setblocking(False)
        self._resume()

    def close(self) -> None:
        """Accept no more, and close this process's descriptor of the listening socket
        (the socket itself stays open while a supervisor or a SIGHUP's restart holds it)."""
        if not self._closed:
            self._closed = True
            self._pause()
            self._listener.close()
            for connection in list(self._sniffing):  # no request has begun on these
                self._stop_sniffing(connection)
                connection.close()

    async def settle(self, timeout_s: float) -> None:
        """Wait until every accepted socket has its transport (or failed), at most ``timeout_s``."""
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout_s)

    def _starting(self) -> int:
        """Accepted sockets not yet connections: each holds a descriptor all the same."""
        return len(self._pending) + len(self._sniffing)

    def _on_acceptable(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                connection, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as error:
                if error.errno not in _OUT_OF_RESOURCES:
                    raise
                # Linux keeps the listener readable: pause rather than spin.
                logger.warning("accept() failed (%s): retrying in %ss", error, ACCEPT_RETRY_S)
                self._pause()
                self._loop.call_later(ACCEPT_RETRY_S, self._resume)
                return
            connection.setblocking(False)
            if self._open_connections() + self._starting() >= self._limits.max_connections:
                self._refuse(connection)
            elif self._ssl_context is None:
                self._connect(connection, None)
            else:
                self._sniff(connection)

    def _pause(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._listener.fileno())

    def _resume(self) -> None:
        if not self._reading and not self._closed:
            self._reading = True
            self._loop.add_reader(self._listener.fileno(), self._on_acceptable)

    def _refuse(self, connection: socket.socket) -> None:
        if self._ssl_context is None:
            try:
                connection.send(OVER_CAPACITY)
            except OSError:
                pass  # gone already, or its buffer full: closed all the same
        connection.close()

    # -- TLS: plain HTTP or a handshake? ---------------------------------------------

    def _sniff(self, connection: socket.socket) -> None:
        # The wait for the first byte is part of the request head's time (slowloris).
        timer = self._loop.call_later(self._limits.header_timeout_s, self._give_up, connection)
        self._sniffing[connection] = timer
        self._loop.add_reader(connection.fileno(), self._on_first_byte, connection)

    def _stop_sniffing(self, connection: socket.socket) -> None:
        self._sniffing.pop(connection).cancel()
        self._loop.remove_reader(connection.fileno())

    def _give_up(self, connection: socket.socket) -> None:
        if connection in self._sniffing:
            self._stop_sniffing(connection)
            connection.close()

    def _on_first_byte(self, connection: socket.socket) -> None:
        try:
            first = connection.recv(1, socket.MSG_PEEK)  # left in the socket for TLS
        except (BlockingIOError, InterruptedError):
            return  # woken for nothing: keep waiting
        except OSError:
            first = b""
        self._stop_sniffing(connection)
        if not first:  # gone without a word
            connection.close()
        elif is_plain_http(first[0]):
            server_address = ("localhost", 0)
            if connection.family != socket.AF_UNIX:
                server_address = socket_address(connection.getsockname())
            answer = plain_http_answer(server_address, self._plain_http_port)
            self._connect(connection, None, lambda: PlainHttpRefusal(answer, self._limits))
        else:
            self._connect(connection, self._ssl_context)

    # -- transports ------------------------------------------------------------------

    def _connect(
        self,
        connection: socket.socket,
        ssl_context: ssl.SSLContext | None,
        factory: Callable[[], asyncio.Protocol] | None = None,
    ) -> None:
        """Give ``connection`` its transport and protocol, in a task tracked until done."""
        accepted = self._loop.connect_accepted_socket(
            factory or self._factory,
            connection,
            ssl=ssl_context,
            # A TLS handshake is part of the request head's time (slowloris).
            ssl_handshake_timeout=self._limits.header_timeout_s if ssl_context else None,
        )
        task: asyncio.Task[object] = self._loop.create_task(accepted)
        self._pending.add(task)
        task.add_done_callback(self._on_connected)

    def _on_connected(self, task: asyncio.Task[object]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A failed TLS handshake, a client gone already: nothing to serve.
            logger.debug("connection not established: %r", task.exception())
