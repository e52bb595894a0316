"""Plain HTTP sent to a TLS port gets a readable 400, not a reset; TLS still works."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import pytest
import trustme

from barehttp.protocol.limits import Limits
from barehttp.server.handler import Exchange
from barehttp.server.plain_http import is_plain_http
from barehttp.server.server import Server
from barehttp.server.tls import make_server_context

TIMEOUT_S = 10.0


def hello(exchange: Exchange) -> None:
    exchange.send_response(200, [("Content-Type", "text/plain")], b"over tls")


@pytest.fixture(scope="module")
def cert_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, trustme.CA]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("tls") / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(path))
    return str(path), ca


def start(cert_file: tuple[str, trustme.CA], plain_http_port: int | None) -> Server:
    server = Server(
        hello,
        host="127.0.0.1",
        port=0,
        limits=Limits(worker_threads=2, header_timeout_s=2.0),
        access_log=False,
        ssl_context=make_server_context(cert_file[0]),
    )
    server.plain_http_port = plain_http_port
    server.start()
    return server


@pytest.fixture
def tls_server(cert_file: tuple[str, trustme.CA]) -> Iterator[Server]:
    server = start(cert_file, None)
    yield server
    server.shutdown(timeout=2.0)


def read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65_536):
        data += chunk
    return data


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "OPTIONS", "get"])
def test_plain_request_to_tls_port_is_a_readable_400(tls_server: Server, method: str) -> None:
    port = tls_server.addresses[0][1]
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(f"{method} /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi".encode())
        answer = read_all(sock)  # ends with FIN: a reset would raise here
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert (
        body == f"This port speaks HTTPS, not plain HTTP: use https://127.0.0.1:{port}/\n".encode()
    )


def test_the_400_names_the_plain_http_port(cert_file: tuple[str, trustme.CA]) -> None:
    server = start(cert_file, 8080)
    try:
        with socket.create_connection(
            ("127.0.0.1", server.addresses[0][1]), timeout=TIMEOUT_S
        ) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            answer = read_all(sock)
    finally:
        server.shutdown(timeout=2.0)
    assert b"Plain HTTP is answered on port 8080, with a redirect here.\n" in answer


def test_tls_clients_are_unaffected(tls_server: Server, cert_file: tuple[str, trustme.CA]) -> None:
    client_context = ssl.create_default_context()
    cert_file[1].configure_trust(client_context)
    port = tls_server.addresses[0][1]
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    with client_context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        assert read_all(sock).endswith(b"over tls")


@pytest.mark.parametrize(
    ("byte", "expected"),
    [(0x16, False), (0x80, False), (ord("G"), True), (ord("p"), True), (ord("/"), False)],
)
def test_first_byte_tells_tls_from_http(byte: int, expected: bool) -> None:
    assert is_plain_http(byte) is expected
