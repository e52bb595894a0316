"""Listening sockets: accepted connections carry their timeouts from the first moment."""

from __future__ import annotations

import socket
import struct
import sys
import time
from typing import Any

import pytest

import barehttp.server.server as server_module
from barehttp.protocol.limits import Limits
from barehttp.server.listener import Acceptor, bind_listeners
from tests.server.conftest import WAIT_S, StartServer


def read_timeout_s(sock: socket.socket, option: int) -> float:
    whole, micro = struct.unpack("ll", sock.getsockopt(socket.SOL_SOCKET, option, 16))
    return whole + micro / 1_000_000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="options inherited on Linux")
def test_connection_queued_before_the_acceptor_starts_has_timeouts() -> None:
    """A client may connect between listen() and the accept loop (start-up, pre-fork).

    Its socket must still get SO_RCVTIMEO, or a worker would block in recv() on it
    forever: never parked, never idle-timed-out, holding up shutdown.
    """
    limits = Limits(linger_s=0.05, write_timeout_s=3.0)
    (listener,) = bind_listeners("127.0.0.1", 0, limits)
    with listener, socket.create_connection(listener.getsockname()[:2], timeout=WAIT_S):
        accepted, _ = listener.accept()  # no Acceptor was ever created
        with accepted:
            assert read_timeout_s(accepted, socket.SO_RCVTIMEO) == pytest.approx(0.05, abs=0.01)
            assert read_timeout_s(accepted, socket.SO_SNDTIMEO) == pytest.approx(3.0, abs=0.01)
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_failed_hand_over_does_not_leak_the_connection_count(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = start_server()
    real_connection = server_module.Connection
    failures: list[int] = []

    def fail_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise OSError("simulated failure while handing over a new connection")
        return real_connection(*args, **kwargs)

    monkeypatch.setattr(server_module, "Connection", fail_once)
    doomed = running.connect()
    doomed.settimeout(WAIT_S)
    assert doomed.recv(1) == b""  # the acceptor closed it
    assert failures == [1]
    assert running.wait_for_open_connections(0)
    response, _ = running.send(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert response.status == 200


# Far longer than a prompt stop takes, far shorter than the linger_s below.
PROMPT_STOP_S = 5.0


def test_stopping_does_not_wait_for_linger_s(start_server: StartServer) -> None:
    # The accept loop waits for a connection or for stop(), not in an accept()
    # bounded by linger_s: a long linger_s must not hold up a shutdown.
    running = start_server(linger_s=60.0)
    response, _ = running.send(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert response.status == 200
    assert running.wait_for_open_connections(0)
    started = time.monotonic()
    assert running.server.shutdown(timeout=PROMPT_STOP_S)
    assert time.monotonic() - started < PROMPT_STOP_S


def test_an_acceptor_stops_at_once_and_closes_its_listener() -> None:
    limits = Limits(linger_s=60.0)
    (listener,) = bind_listeners("127.0.0.1", 0, limits)
    accepted: list[socket.socket] = []
    acceptor = Acceptor(listener, limits, lambda sock, _: accepted.append(sock))
    with socket.create_connection(listener.getsockname()[:2], timeout=WAIT_S):
        deadline = time.monotonic() + PROMPT_STOP_S
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(accepted) == 1
        accepted[0].close()
    started = time.monotonic()
    acceptor.stop()
    assert time.monotonic() - started < PROMPT_STOP_S
    assert listener.fileno() == -1
