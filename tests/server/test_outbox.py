"""Outbox: non-blocking sends of bytes and file ranges, in order, owning what it dups."""

from __future__ import annotations

import collections
import collections.abc
import os
import pathlib
import socket

import pytest

from barehttp.server.outbox import FileRange, Outbox, Part

PAYLOAD = bytes(range(256)) * 8_192  # 2 MiB, far more than a socket buffer holds


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def drain_all(outbox: Outbox, sender: socket.socket, receiver: socket.socket, size: int) -> bytes:
    """Alternate non-blocking sends and reads until ``size`` bytes arrived."""
    received = bytearray()
    while len(received) < size:
        outbox.send_available(sender)
        try:
            received += receiver.recv(65_536)
        except BlockingIOError:
            pass
    return bytes(received)


@pytest.fixture
def pair() -> collections.abc.Iterator[tuple[socket.socket, socket.socket]]:
    sender, receiver = socket.socketpair()
    sender.setblocking(False)
    receiver.setblocking(False)
    with sender, receiver:
        yield sender, receiver


def test_bytes_go_out_in_order_across_many_partial_sends(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    sender, receiver = pair
    parts: collections.deque[Part] = collections.deque(
        [memoryview(b"head:"), memoryview(PAYLOAD), memoryview(b":tail")]
    )
    outbox = Outbox(parts)
    first = outbox.send_available(sender)
    assert 0 < first < len(PAYLOAD)  # the buffer filled: the rest waits, nothing blocked
    assert not outbox.is_empty
    data = drain_all(outbox, sender, receiver, len(PAYLOAD) + 10)
    assert data == b"head:" + PAYLOAD + b":tail"
    assert outbox.is_empty


def test_a_file_range_is_sent_and_its_owned_descriptor_closed(
    pair: tuple[socket.socket, socket.socket], tmp_path: pathlib.Path
) -> None:
    sender, receiver = pair
    path = tmp_path / "data.bin"
    path.write_bytes(PAYLOAD)
    with path.open("rb") as file:
        outbox = Outbox(collections.deque([FileRange(file.fileno(), 100, len(PAYLOAD) - 200)]))
        outbox.keep_files_open()
        owned = outbox.parts[0]
        assert isinstance(owned, FileRange) and owned.fd != file.fileno()
    # The handler's file is closed; the outbox's own descriptor carries on.
    data = drain_all(outbox, sender, receiver, len(PAYLOAD) - 200)
    assert data == PAYLOAD[100:-100]
    assert not is_open(owned.fd)


def test_close_drops_unsent_parts_and_closes_owned_descriptors(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(PAYLOAD)
    with path.open("rb") as file:
        outbox = Outbox(collections.deque([memoryview(b"x"), FileRange(file.fileno(), 0, 10)]))
        outbox.keep_files_open()
    owned = outbox.parts[1]
    assert isinstance(owned, FileRange) and is_open(owned.fd)
    outbox.close()
    assert outbox.is_empty
    assert not is_open(owned.fd)


def test_a_file_shorter_than_promised_is_an_error(
    pair: tuple[socket.socket, socket.socket], tmp_path: pathlib.Path
) -> None:
    sender, _ = pair
    path = tmp_path / "short.bin"
    path.write_bytes(b"12345")
    with path.open("rb") as file:
        outbox = Outbox(collections.deque([FileRange(file.fileno(), 0, 10)]))
        with pytest.raises(OSError, match="file ended"):
            outbox.send_available(sender)
