"""HTTPS with the stdlib ssl module, checked with real clients against a test CA."""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
import trustme

from barehttp.protocol.limits import Limits
from barehttp.server.handler import Exchange
from barehttp.server.server import Server
from barehttp.server.tls import RedirectToHTTPS, make_server_context
from tests.server.conftest import LATE_S, LONG_S, WAIT_S, OffsetClock, wait_for

LARGE_FILE_BYTES = 5 * 1024 * 1024 + 123


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def cert_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    directory = tmp_path_factory.mktemp("tls")
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_path = directory / "server.pem"
    ca_path = directory / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    ca.cert_pem.write_to_path(str(ca_path))
    return str(cert_path), str(ca_path)


@pytest.fixture(scope="module")
def large_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("files") / "large.bin"
    path.write_bytes(os.urandom(LARGE_FILE_BYTES))
    return path


class TLSHandler:
    """Echoes whether the exchange is TLS; serves a large file from /large."""

    def __init__(self, large_file: Path) -> None:
        self.large_file = large_file

    def __call__(self, exchange: Exchange) -> None:
        if exchange.head.path == "/large":
            with open(self.large_file, "rb") as file:
                size = os.fstat(file.fileno()).st_size
                exchange.start_response(200, [("Content-Type", "application/octet-stream")], size)
                exchange.send_file(file, 0, size)
                exchange.end()
            return
        body = f"tls={exchange.is_tls} path={exchange.head.path}".encode()
        exchange.send_response(200, [("Content-Type", "text/plain")], body)


@pytest.fixture
def tls_clock() -> OffsetClock:
    """The server's clock: its timeouts are out of reach until a test moves it."""
    return OffsetClock()


@pytest.fixture
def tls_server(
    cert_files: tuple[str, str], large_file: Path, tls_clock: OffsetClock
) -> Iterator[Server]:
    certfile, _ = cert_files
    server = Server(
        TLSHandler(large_file),
        host="127.0.0.1",
        port=0,
        limits=Limits(worker_threads=2, idle_timeout_s=LONG_S, header_timeout_s=LONG_S),
        access_log=False,
        ssl_context=make_server_context(certfile),
        clock=tls_clock,
    )
    server.start()
    yield server
    server.shutdown(timeout=2.0)


def https_url(server: Server, path: str = "/") -> str:
    return f"https://localhost:{server.addresses[0][1]}{path}"


def client_context(ca_path: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_path)


def test_requests_verifies_against_test_ca(tls_server: Server, cert_files: tuple[str, str]) -> None:
    response = requests.get(https_url(tls_server, "/hello"), verify=cert_files[1], timeout=WAIT_S)
    assert response.status_code == 200
    assert response.text == "tls=True path=/hello"


def test_httpx_keep_alive_over_tls(tls_server: Server, cert_files: tuple[str, str]) -> None:
    with httpx.Client(verify=client_context(cert_files[1]), timeout=WAIT_S) as client:
        texts = [client.get(https_url(tls_server, f"/{n}")).text for n in range(3)]
    assert texts == [f"tls=True path=/{n}" for n in range(3)]


def test_curl_with_cacert(tls_server: Server, cert_files: tuple[str, str]) -> None:
    result = subprocess.run(
        ["curl", "-sS", "--cacert", cert_files[1], https_url(tls_server, "/curl")],
        capture_output=True,
        timeout=10,
        check=True,
    )
    assert result.stdout == b"tls=True path=/curl"


def test_alpn_selects_http11(tls_server: Server, cert_files: tuple[str, str]) -> None:
    context = client_context(cert_files[1])
    context.set_alpn_protocols(["h2", "http/1.1"])
    port = tls_server.addresses[0][1]
    with (
        socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        assert sock.selected_alpn_protocol() == "http/1.1"
        assert sock.version() in ("TLSv1.2", "TLSv1.3")


def test_context_refuses_versions_below_tls12(cert_files: tuple[str, str]) -> None:
    context = make_server_context(cert_files[0])
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_bytes_neither_tls_nor_http_get_no_response(tls_server: Server) -> None:
    # Plain HTTP gets a readable 400 (test_plain_http_to_tls.py); anything else
    # fails the handshake and the server closes, never answering in clear text.
    port = tls_server.addresses[0][1]
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
        sock.sendall(b"\x01\x02 not a hello\r\n\r\n")
        try:
            received = sock.recv(100)
        except ConnectionResetError:
            received = b""
        assert b"HTTP/1.1" not in received


def test_silent_clients_do_not_block_the_handshake_of_others(
    tls_server: Server, cert_files: tuple[str, str], tls_clock: OffsetClock
) -> None:
    port = tls_server.addresses[0][1]
    silent = [socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) for _ in range(10)]
    try:
        started = time.monotonic()
        response = requests.get(https_url(tls_server, "/ok"), verify=cert_files[1], timeout=WAIT_S)
        assert response.status_code == 200
        # 2 workers, 10 silent sockets: were they held by those, the wait would last
        # until the header timeout, which only the clock's jump below brings.
        assert time.monotonic() - started < LATE_S
        # And the silent ones are closed by the server at their deadline.
        tls_clock.advance(2 * LONG_S)
        assert silent[0].recv(10) == b""
    finally:
        for sock in silent:
            sock.close()


def test_large_file_over_tls_is_copied_intact(
    tls_server: Server, cert_files: tuple[str, str], large_file: Path
) -> None:
    response = requests.get(https_url(tls_server, "/large"), verify=cert_files[1], timeout=20)
    assert response.status_code == 200
    assert len(response.content) == LARGE_FILE_BYTES
    expected = hashlib.sha256(large_file.read_bytes()).hexdigest()
    assert hashlib.sha256(response.content).hexdigest() == expected


def test_redirect_listener_answers_308_to_https() -> None:
    server = Server(RedirectToHTTPS(8443), host="127.0.0.1", port=0, access_log=False)
    server.start()
    try:
        port = server.addresses[0][1]
        response = requests.post(
            f"http://127.0.0.1:{port}/path?q=1",
            headers={"Host": f"example.test:{port}"},
            data=b"x",
            allow_redirects=False,
            timeout=WAIT_S,
        )
    finally:
        server.shutdown(timeout=1.0)
    assert response.status_code == 308
    assert response.headers["Location"] == "https://example.test:8443/path?q=1"


def test_a_tls_body_gathered_across_a_pause_is_served(
    tls_server: Server, cert_files: tuple[str, str]
) -> None:
    """The body's first bytes, a pause (the connection parks while gathering), the rest."""
    port = tls_server.addresses[0][1]
    context = client_context(cert_files[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        sock.sendall(b"POST /gathered HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab")
        reactor = tls_server.context.reactor
        wait_for(lambda: reactor.parked_count == 1, "the gathering connection parked")
        sock.sendall(b"cd")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
