"""``barehttp asgi`` with TLS: --redirect-http-port answers plain HTTP with 308s to HTTPS
(from every worker), and plain HTTP sent to the TLS port gets the threaded server's 400."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.asgi.conftest import StartAsgi

TIMEOUT_S = 15.0


@contextlib.contextmanager
def reserved_port() -> Iterator[int]:
    """A port kept bound (SO_REUSEADDR, not listening) until the server has bound it too.

    A port found free and let go at once could be handed to another test's socket
    before the server binds it; a bound one is given to nobody else, and the server's
    SO_REUSEADDR bind and listen() share it with a socket that does not listen.
    """
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one-process", "workers"])
def test_redirect_port_answers_308_to_the_https_port(
    start: StartAsgi, tls_files: tuple[Path, Path, ssl.SSLContext], workers: list[str]
) -> None:
    chain, key, client_context = tls_files
    with reserved_port() as http_port:
        server = start(
            "tests.asgi.apps.raw:app",
            *workers,
            "--certfile", str(chain), "--keyfile", str(key),
            "--redirect-http-port", str(http_port),
        )  # fmt: skip
    response = httpx.get(f"http://127.0.0.1:{http_port}/where?x=1", timeout=TIMEOUT_S)
    assert response.status_code == 308
    # The HTTPS port is the one bound (port 0 asked a free one).
    location = f"https://127.0.0.1:{server.port}/where?x=1"
    assert response.headers["Location"] == location
    secure = httpx.get(location, verify=client_context, timeout=TIMEOUT_S)
    assert secure.json()["scheme"] == "https"
    assert f"redirecting http://127.0.0.1:{http_port} to https" in server.log()


def test_plain_http_to_the_tls_port_gets_a_readable_400(
    start: StartAsgi, tls_files: tuple[Path, Path, ssl.SSLContext]
) -> None:
    curl = shutil.which("curl")
    assert curl is not None, "curl is needed (make system-deps installs it)"
    chain, key, client_context = tls_files
    with reserved_port() as http_port:
        server = start(
            "tests.asgi.apps.raw:app",
            "--certfile", str(chain), "--keyfile", str(key),
            "--redirect-http-port", str(http_port),
        )  # fmt: skip
    result = subprocess.run(
        [curl, "-sS", "-w", "%{http_code}", f"http://127.0.0.1:{server.port}/"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr  # not curl's 56: connection reset
    assert result.stdout == (
        f"This port speaks HTTPS, not plain HTTP: use https://127.0.0.1:{server.port}/\n"
        f"Plain HTTP is answered on port {http_port}, with a redirect here.\n400"
    )
    # The same port still speaks TLS, for HTTP and WebSockets alike.
    url = f"https://127.0.0.1:{server.port}/after"
    assert httpx.get(url, verify=client_context, timeout=TIMEOUT_S).status_code == 200
    wss = f"wss://127.0.0.1:{server.port}/echo"
    with connect(wss, ssl=client_context, open_timeout=TIMEOUT_S) as websocket:
        websocket.send("still tls")
        assert websocket.recv(TIMEOUT_S) == "still tls"


def test_a_client_silent_on_the_tls_port_is_closed_at_the_header_timeout(
    start: StartAsgi, tls_files: tuple[Path, Path, ssl.SSLContext]
) -> None:
    chain, key, _ = tls_files
    server = start(
        "tests.asgi.apps.raw:app", "--certfile", str(chain), "--keyfile", str(key),
        "--header-timeout", "0.5",
    )  # fmt: skip
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        assert sock.recv(1) == b""  # closed without a word, well before TIMEOUT_S
