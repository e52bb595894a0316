#!/usr/bin/env python3
"""The holding side of websocket_idle.py, one process: opens WebSockets and keeps them idle.

``python3 websocket_holder.py PORT COUNT MAX_SECONDS``, then commands, one
per line on stdin, each answered by one line on stdout:

- at start: ``opened N failed M`` once the handshakes are done (batches of 100);
- ``echo``: one 16-byte text message on every connection, in batches of 100;
  answers ``echoed N failed M`` (proof that they are open WebSockets, not sockets
  a server forgot);
- ``close`` or end of input: close them all and exit.

Between commands the connections are idle but alive, as a browser's are: a
selector watches them, every Ping a server sends is answered with its Pong
(RFC 6455 §5.5.2), and a Close or EOF from the server is counted (``closed N``
on the ``echoed`` line). It exits by itself after MAX_SECONDS whatever happens
(SIGALRM), so it never outlives the bench. Every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import selectors
import signal
import socket
import sys

from websocket_client import (
    OPCODE_CLOSE,
    OPCODE_PING,
    OPCODE_PONG,
    OPCODE_TEXT,
    WebSocketError,
    check_handshake_response,
    echo_once,
    handshake_request,
    masked_frame,
    read_head,
    server_frame_length,
    server_frame_payload,
)

BATCH_SIZE = 100  # handshakes in flight at once: well under the server's accept backlog
TIMEOUT_S = 10.0  # per connect, per response
MESSAGE = b"idle-check-16 B!"


def open_batch(port: int, count: int) -> tuple[list[tuple[socket.socket, bytes]], int]:
    """Send ``count`` handshakes, then read each answer; the open ones and the failures."""
    pending: list[tuple[socket.socket, bytes]] = []
    failures = 0
    for _ in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
            request, accept = handshake_request(port)
            sock.sendall(request)
            pending.append((sock, accept))
        except OSError:
            failures += 1
    opened: list[tuple[socket.socket, bytes]] = []
    for sock, accept in pending:
        try:
            head, rest = read_head(sock)
            check_handshake_response(head, accept)
            opened.append((sock, rest))
        except (OSError, WebSocketError):
            failures += 1
            sock.close()
    return opened, failures


class Holder:
    """The open connections, each with the bytes read from it but not yet parsed."""

    def __init__(self, connections: list[tuple[socket.socket, bytes]]) -> None:
        self.buffers = {sock: bytearray(early) for sock, early in connections}
        self.closed_by_server = 0
        self.selector = selectors.DefaultSelector()
        for sock in self.buffers:
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
        self.selector.register(sys.stdin, selectors.EVENT_READ)

    def wait_for_command(self) -> str:
        """Answer Pings until a line arrives on stdin; the line ('' at end of input)."""
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is sys.stdin:
                    return sys.stdin.readline()
                self.read(key.fileobj)  # type: ignore[arg-type]

    def read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65_536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(sock)
            return
        buffer = self.buffers[sock]
        buffer += data
        while size := server_frame_length(buffer):
            opcode, payload = server_frame_payload(buffer[:size])
            del buffer[:size]
            if opcode == OPCODE_PING:
                sock.setblocking(True)
                sock.settimeout(TIMEOUT_S)
                try:
                    sock.sendall(masked_frame(OPCODE_PONG, payload))
                finally:
                    sock.setblocking(False)
            elif opcode == OPCODE_CLOSE:
                self.drop(sock)
                return

    def drop(self, sock: socket.socket) -> None:
        self.closed_by_server += 1
        self.selector.unregister(sock)
        del self.buffers[sock]
        sock.close()

    def echo_all(self) -> tuple[int, int]:
        """One 16 B text message on every connection, one after another (blocking)."""
        frame = masked_frame(OPCODE_TEXT, MESSAGE)
        echoed = failed = 0
        for sock, buffer in self.buffers.items():
            sock.settimeout(TIMEOUT_S)
            try:
                answer = echo_once(sock, frame, bytes(buffer))
            except (OSError, WebSocketError):
                answer = (0, b"")
            finally:
                sock.setblocking(False)
            buffer.clear()
            if answer == (OPCODE_TEXT, MESSAGE):
                echoed += 1
            else:
                failed += 1
        return echoed, failed

    def close(self) -> None:
        for sock in self.buffers:
            with contextlib.suppress(OSError):
                sock.close()
        self.selector.close()


def main() -> int:
    port, count, max_seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    signal.alarm(max_seconds)  # default action: terminate
    connections: list[tuple[socket.socket, bytes]] = []
    failures = 0
    for start in range(0, count, BATCH_SIZE):
        opened, failed = open_batch(port, min(BATCH_SIZE, count - start))
        connections += opened
        failures += failed
    holder = Holder(connections)
    print(f"opened {len(connections)} failed {failures}", flush=True)
    try:
        while command := holder.wait_for_command().strip():
            if command == "echo":
                echoed, failed = holder.echo_all()
                print(
                    f"echoed {echoed} failed {failed + holder.closed_by_server}"
                    f" closed {holder.closed_by_server}",
                    flush=True,
                )
            elif command == "close":
                break
    finally:
        holder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
