#!/usr/bin/env python3
"""WebSocket frame throughput, in process: barehttp's sans-IO connection vs wsproto.

Both sides do the same work on the same bytes: a server parsing masked client
frames into whole messages (unmasking, UTF-8 checks for text), and a server
serialising messages into frames. Each case runs ``--rounds`` times and the best
is kept; the process pins itself to CPU 0 when it can (like ``taskset -c 0``).
Prints messages per second for each and the ratio barehttp/wsproto.

Needs wsproto (a test dependency: ``make .venv/.installed``).

Usage::

    .venv/bin/python bench/websocket_frames.py
    .venv/bin/python bench/websocket_frames.py --messages 20000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, Message, TextMessage

from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_frames import Opcode, Role, encode_frame

SERVER_CPU = 0
RECV_BYTES = 65_536  # bytes handed over per receive call, like one recv()
MASK = b"\x01\x02\x03\x04"

# (name, opcode, payload, share of --messages): a chat-sized text message, a 1 KiB
# and a 64 KiB binary one (fewer of those, to keep each case about as long).
CASES = [
    ("text 16 B", Opcode.TEXT, b"hello, websocket", 1.0),
    ("binary 1 KiB", Opcode.BINARY, bytes(range(256)) * 4, 1.0),
    ("binary 64 KiB", Opcode.BINARY, bytes(range(256)) * 256, 0.05),
]


def best_rate(work: Callable[[], int], rounds: int) -> float:
    """Highest messages per second over ``rounds`` runs of ``work`` (returns a count)."""
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        count = work()
        best = max(best, count / (time.perf_counter() - start))
    return best


def pieces_of(data: bytes) -> list[bytes]:
    return [data[start : start + RECV_BYTES] for start in range(0, len(data), RECV_BYTES)]


def parse_barehttp(pieces: list[bytes]) -> Callable[[], int]:
    def work() -> int:
        connection = WebSocketConnection(Role.SERVER)
        count = 0
        for piece in pieces:
            count += len(connection.receive_data(piece))
        return count

    return work


def parse_wsproto(pieces: list[bytes]) -> Callable[[], int]:
    def work() -> int:
        connection = Connection(ConnectionType.SERVER)
        count = 0
        for piece in pieces:
            connection.receive_data(piece)
            for event in connection.events():
                if isinstance(event, Message) and event.message_finished:
                    count += 1
        return count

    return work


def send_barehttp(opcode: Opcode, payload: bytes, count: int) -> Callable[[], int]:
    text = payload.decode() if opcode is Opcode.TEXT else None

    def work() -> int:
        connection = WebSocketConnection(Role.SERVER)
        for _ in range(count):
            if text is not None:
                connection.send_text(text)
            else:
                connection.send_binary(payload)
            connection.data_to_send()
        return count

    return work


def send_wsproto(opcode: Opcode, payload: bytes, count: int) -> Callable[[], int]:
    event = TextMessage(payload.decode()) if opcode is Opcode.TEXT else BytesMessage(payload)

    def work() -> int:
        connection = Connection(ConnectionType.SERVER)
        for _ in range(count):
            connection.send(event)
        return count

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000, help="messages per case")
    parser.add_argument("--rounds", type=int, default=3, help="runs per case; the best is kept")
    args = parser.parse_args()
    if args.messages < 1 or args.rounds < 1:
        parser.error("--messages and --rounds must be at least 1")
    pinned = False
    if hasattr(os, "sched_setaffinity") and SERVER_CPU in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {SERVER_CPU})
        pinned = True
    print(f"pinned to CPU {SERVER_CPU}: {pinned}; best of {args.rounds} rounds")
    print(f"{'case':<16}{'work':<8}{'barehttp msg/s':>16}{'wsproto msg/s':>16}{'ratio':>8}")
    for name, opcode, payload, share in CASES:
        count = max(1, int(args.messages * share))
        frame = encode_frame(opcode, payload, mask=MASK)
        pieces = pieces_of(frame * count)
        for work, ours, theirs in (
            ("parse", parse_barehttp(pieces), parse_wsproto(pieces)),
            ("write", send_barehttp(opcode, payload, count), send_wsproto(opcode, payload, count)),
        ):
            assert ours() == theirs() == count  # both did all the work
            our_rate = best_rate(ours, args.rounds)
            their_rate = best_rate(theirs, args.rounds)
            print(
                f"{name:<16}{work:<8}{our_rate:>16,.0f}{their_rate:>16,.0f}"
                f"{our_rate / their_rate:>7.1f}x"
            )


if __name__ == "__main__":
    main()
