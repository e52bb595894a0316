"""``barehttp asgi`` over HTTP/1.1: bodies, streaming, keep-alive, refusals, limits, drain."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import httpx
import pytest

from tests.asgi.conftest import StartAsgi
from tests.wsgi.process import wait_until

APP = "tests.asgi.apps.raw:app"
TIMEOUT_S = 15.0


def exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(data)
        return read_until_close(sock)


def read_until_close(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_request_body_is_streamed_with_more_body(start: StartAsgi) -> None:
    server = start(APP)
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        # Half the body: the app answers from the first message, so it must come now.
        sock.sendall(b"POST /first-message HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
        response = sock.recv(65536)
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"hello|more=True")


def test_whole_body_is_received(start: StartAsgi) -> None:
    server = start(APP)
    response = httpx.post(server.url("/echo"), content=b"x" * 300_000, timeout=TIMEOUT_S)
    assert response.json()["body_bytes"] == 300_000


def test_disconnect_reaches_the_app(start: StartAsgi, markers: Path) -> None:
    server = start(APP)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
    sock.sendall(b"GET /wait-disconnect?token=t1 HTTP/1.1\r\nHost: x\r\n\r\n")
    wait_until((markers / "t1-started").exists, TIMEOUT_S, "the app to start")
    sock.close()
    wait_until((markers / "t1-disconnected").exists, TIMEOUT_S, "http.disconnect")


def test_disconnect_wakes_every_task_waiting_in_receive(start: StartAsgi, markers: Path) -> None:
    server = start(APP)
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
    sock.sendall(b"POST /two-receivers?token=t2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n")
    wait_until((markers / "t2-started").exists, TIMEOUT_S, "the app to start")
    sock.close()
    wait_until((markers / "t2-disconnected").exists, TIMEOUT_S, "both receivers to see it")


def test_streamed_response_is_chunked_and_sent_as_it_comes(start: StartAsgi, markers: Path) -> None:
    server = start(APP)
    with httpx.stream("GET", server.url("/stream?token=s1"), timeout=TIMEOUT_S) as response:
        assert response.headers["transfer-encoding"] == "chunked"
        pieces = response.iter_bytes()
        assert next(pieces) == b"first,"  # before the app may send the rest
        (markers / "s1-go").touch()
        assert b"".join(pieces) == b"last"


def test_keep_alive_reuses_the_connection(start: StartAsgi) -> None:
    server = start(APP)
    with httpx.Client(timeout=TIMEOUT_S) as client:
        ports = {client.get(server.url(f"/{n}")).json()["client_port"] for n in range(3)}
    assert len(ports) == 1


def test_head_has_length_and_no_body(start: StartAsgi) -> None:
    server = start(APP)
    raw = exchange(server.port, b"HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Content-Length: " in head
    assert body == b""


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", b"400"),  # no Host
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n", b"431"),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", b"505"),
        (b"GET /" + b"a" * 9_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
    ],
)
def test_parser_refusals_get_their_status(
    start: StartAsgi, request_bytes: bytes, status: bytes
) -> None:
    server = start(APP)
    assert exchange(server.port, request_bytes).startswith(b"HTTP/1.1 " + status)


def test_body_over_max_body_is_413(start: StartAsgi) -> None:
    server = start(APP, "--max-body", "1K")
    response = httpx.post(server.url("/"), content=b"x" * 2048, timeout=TIMEOUT_S)
    assert response.status_code == 413
    chunked = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n"
    assert exchange(server.port, chunked + b"y" * 2048 + b"\r\n0\r\n\r\n").startswith(
        b"HTTP/1.1 413"
    )


def test_slow_head_gets_408(start: StartAsgi) -> None:
    server = start(APP, "--header-timeout", "0.3")
    assert exchange(server.port, b"GET / HTTP/1.1\r\nHost:").startswith(b"HTTP/1.1 408")


def test_stalled_body_gets_408(start: StartAsgi) -> None:
    server = start(APP, "--body-timeout", "0.3")
    stalled = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf"
    assert exchange(server.port, stalled).startswith(b"HTTP/1.1 408")


def test_client_that_does_not_read_is_dropped(start: StartAsgi, markers: Path) -> None:
    server = start(APP, "--write-timeout", "0.3")
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /flood?token=w1 HTTP/1.1\r\nHost: x\r\n\r\n")
        # The app's sends stop waiting once the server drops us; we never read.
        wait_until((markers / "w1-flooded").exists, TIMEOUT_S, "the server to drop the reader")


def test_idle_connection_is_closed(start: StartAsgi) -> None:
    server = start(APP, "--idle-timeout", "0.3")
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        assert read_until_close(sock) == b""


def test_body_longer_than_content_length_is_not_sent(start: StartAsgi) -> None:
    server = start(APP, "--idle-timeout", "60")
    request = b"GET /wrong-length?send=abcdefgh HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(request)
        assert b"abcdefgh" not in read_until_close(sock)  # closed, nothing past 5 bytes


def test_body_shorter_than_content_length_closes(start: StartAsgi) -> None:
    server = start(APP, "--idle-timeout", "60")
    request = b"GET /wrong-length?send=abc HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(request)
        assert read_until_close(sock).endswith(b"\r\n\r\nabc")  # then the close ends it


def test_app_exception_is_500(start: StartAsgi) -> None:
    server = start(APP)
    response = httpx.get(server.url("/boom"), timeout=TIMEOUT_S)
    assert response.status_code == 500
    assert "the app broke" in server.log()  # logged, not shown to the client
    assert "the app broke" not in response.text


def test_factory_and_root_path(start: StartAsgi) -> None:
    server = start("tests.asgi.apps.raw:create_app()", "--root-path", "/api")
    info = httpx.get(server.url("/items?a=1"), timeout=TIMEOUT_S).json()
    assert info == {**info, "path": "/api/items", "root_path": "/api", "query": "a=1"}


@pytest.mark.parametrize(("allowed", "expected"), [(None, "203.0.113.7"), ("", "127.0.0.1")])
def test_proxy_headers_from_trusted_peers(
    start: StartAsgi, allowed: str | None, expected: str
) -> None:
    server = start(APP) if allowed is None else start(APP, "--forwarded-allow-ips", allowed)
    forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    info = httpx.get(server.url("/"), headers=forwarded, timeout=TIMEOUT_S).json()
    assert info["client_host"] == expected  # 127.0.0.1 is trusted by default
    assert info["scheme"] == ("https" if allowed is None else "http")


def test_sigterm_drains_in_flight_requests(start: StartAsgi, markers: Path) -> None:
    server = start(APP)
    with httpx.Client(timeout=TIMEOUT_S) as client:
        assert client.get(server.url("/")).status_code == 200  # an idle keep-alive one
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S)
        sock.sendall(b"GET /slow?token=d1 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until((markers / "d1-started").exists, TIMEOUT_S, "the slow request")
        server.signal(signal.SIGTERM)
        wait_until(lambda: "draining" in server.log(), TIMEOUT_S, "the drain to start")
        (markers / "d1-go").touch()
        response = read_until_close(sock)
        sock.close()
    assert response.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in response
    assert response.endswith(b"slow done")
    assert server.process.wait(TIMEOUT_S) == 0


def test_shutdown_timeout_cuts_what_did_not_finish(start: StartAsgi, markers: Path) -> None:
    server = start(APP, "--shutdown-timeout", "0.3")
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT_S) as sock:
        sock.sendall(b"GET /slow?token=c1 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until((markers / "c1-started").exists, TIMEOUT_S, "the slow request")
        server.signal(signal.SIGTERM)
        assert read_until_close(sock) == b""  # cut, never answered
    assert server.process.wait(TIMEOUT_S) == 3  # not everything drained
    assert "cut at the shutdown timeout" in server.log()


def test_bad_app_spec_is_one_line(tmp_path: Path) -> None:
    from barehttp.cli import main

    assert main(["asgi", "no_such_module_here:app", "--port", "0"]) == 2


def test_info_json(start: StartAsgi) -> None:
    server = start(APP)
    info = json.loads(httpx.get(server.url("/a%20b"), timeout=TIMEOUT_S).text)
    assert info["path"] == "/a b"
