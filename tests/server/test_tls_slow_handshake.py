"""A TLS client trickling its hello is cut off at the header timeout, like a slowloris."""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
import trustme

from barehttp.protocol.limits import Limits
from barehttp.server.server import Server
from barehttp.server.tls import make_server_context
from tests.server.conftest import LATE_S, WAIT_S, wait_for
from tests.server.handlers import TestHandler

HEADER_TIMEOUT_S = 1.0
BYTE_INTERVAL_S = 0.2  # slower than linger_s: the connection is parked between bytes
# The close comes at the header timeout, maybe a second late on a loaded machine:
# before LATE_S, far from the 30 s idle timeout (or never) that would be the bug.


@pytest.fixture
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cert = trustme.CA().issue_cert("127.0.0.1")
    cert_path = tmp_path_factory.mktemp("tls") / "server.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    server = Server(
        TestHandler(),
        host="127.0.0.1",
        port=0,
        limits=Limits(header_timeout_s=HEADER_TIMEOUT_S, idle_timeout_s=30.0),
        access_log=False,
        ssl_context=make_server_context(str(cert_path)),
    )
    server.start()
    yield server
    server.shutdown(timeout=2.0)


def client_hello() -> bytes:
    """The first flight of a TLS client, taken from an in-memory handshake."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    client = context.wrap_bio(incoming, outgoing)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def test_trickled_client_hello_is_closed_after_the_header_timeout(tls_server: Server) -> None:
    hello = client_hello()
    assert len(hello) > 40
    sock = socket.create_connection(tls_server.addresses[0], timeout=WAIT_S)
    started = time.monotonic()
    closed_after = None
    try:
        for byte in hello[:-1]:  # never the whole hello
            readable, _, _ = select.select([sock], [], [], BYTE_INTERVAL_S)
            if readable:
                try:
                    assert sock.recv(1) == b""
                except ConnectionResetError:  # closed with our bytes unread
                    pass
                closed_after = time.monotonic() - started
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # reset: closed
                closed_after = time.monotonic() - started
                break
            if time.monotonic() - started > WAIT_S:
                break
    finally:
        sock.close()
    assert closed_after is not None, "a trickled hello kept the connection open"
    assert closed_after < LATE_S
    context = tls_server.context
    wait_for(lambda: context.open_connections == 0, "counted down once, just after close")


def test_half_a_client_hello_then_silence_is_closed_after_the_header_timeout(
    tls_server: Server,
) -> None:
    """Parked mid-handshake, a connection has the head's deadline, not the idle one."""
    hello = client_hello()
    sock = socket.create_connection(tls_server.addresses[0], timeout=WAIT_S)
    try:
        sock.sendall(hello[: len(hello) // 2])
        started = time.monotonic()
        readable, _, _ = select.select([sock], [], [], WAIT_S)
        assert readable, "still open long after the header timeout"
        try:
            assert sock.recv(1) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < LATE_S
    finally:
        sock.close()
