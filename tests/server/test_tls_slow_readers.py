"""TLS slow readers hold no worker: the reactor finishes their responses too.

The server has two worker threads; six TLS clients ask for a large file and
then do not read. Their responses go to outboxes (non-blocking TLS writes
driven by the reactor), so a new TLS client gets its handshake and response at
once, and each slow client, once it reads, gets its file intact.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from barehttp.protocol.limits import Limits
from barehttp.server.handler import Exchange
from barehttp.server.server import Server
from barehttp.server.tls import make_server_context
from tests.server.rawhttp import ResponseReader

FILE_BYTES = 12 * 1_048_576 + 17  # beyond the socket buffers of both ends
SLOW_CLIENTS = 6
WRITE_TIMEOUT_S = 60.0
# A blocked worker would hold the client for write_timeout_s; a handshake and an answer
# may take seconds on a loaded machine.
SERVED_WITHIN_S = 10.0


class FileHandler:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, exchange: Exchange) -> None:
        if exchange.head.path == "/file":
            with self.path.open("rb") as file:
                exchange.start_response(200, [], content_length=FILE_BYTES)
                exchange.send_file(file, 0, FILE_BYTES)
                exchange.end()
        elif exchange.head.path == "/bytes":
            exchange.send_response(200, [], self.path.read_bytes())
        else:
            exchange.send_response(200, [], b"hello")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tls-slow") / "big.bin"
    path.write_bytes(os.urandom(FILE_BYTES))
    return path


@pytest.fixture
def tls_setup(
    big_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, ssl.SSLContext]]:
    ca = trustme.CA()
    cert_path = tmp_path_factory.mktemp("tls-cert") / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    server = Server(
        FileHandler(big_file),
        host="127.0.0.1",
        port=0,
        limits=Limits(worker_threads=2, write_timeout_s=WRITE_TIMEOUT_S),
        access_log=False,
        ssl_context=make_server_context(str(cert_path)),
    )
    server.start()
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    yield server, client_context
    server.shutdown(timeout=2.0)


def open_tls(server: Server, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    raw = socket.create_connection(server.addresses[0], timeout=timeout)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


@pytest.mark.parametrize("path", ["/file", "/bytes"])
def test_tls_slow_readers_hold_no_worker(
    tls_setup: tuple[Server, ssl.SSLContext], big_file: Path, path: str
) -> None:
    server, context = tls_setup
    slow = [open_tls(server, context, 10.0) for _ in range(SLOW_CLIENTS)]
    try:
        for sock in slow:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        started = time.monotonic()
        with open_tls(server, context, SERVED_WITHIN_S) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert ResponseReader(sock).read_response().body == b"hello"
        assert time.monotonic() - started < SERVED_WITHIN_S
        expected = hashlib.sha256(big_file.read_bytes()).hexdigest()
        with concurrent.futures.ThreadPoolExecutor(SLOW_CLIENTS) as executor:
            bodies = executor.map(lambda s: ResponseReader(s).read_response().body, slow)
            assert {hashlib.sha256(body).hexdigest() for body in bodies} == {expected}
    finally:
        for sock in slow:
            sock.close()


def test_server_context_refuses_renegotiation(tmp_path: Path) -> None:
    cert_path = tmp_path / "server.pem"
    trustme.CA().issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(cert_path)
    )
    context = make_server_context(str(cert_path))
    assert context.options & ssl.OP_NO_RENEGOTIATION
