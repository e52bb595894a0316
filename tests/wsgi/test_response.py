"""start_response, exc_info, write(), framing, close() and wsgi.file_wrapper."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import requests

from tests.server.rawhttp import RawResponse, ResponseReader, connect
from tests.wsgi.apps.probe import SECRET
from tests.wsgi.conftest import Markers
from tests.wsgi.process import ServerProcess, wait_until


def exchange(
    server: ServerProcess, request: bytes, *, method: str = "GET"
) -> tuple[RawResponse, ResponseReader]:
    sock = connect("127.0.0.1", server.port)
    sock.sendall(request)
    reader = ResponseReader(sock)
    return reader.read_response(method=method), reader


def get(
    server: ServerProcess, target: str, *, version: str = "HTTP/1.1"
) -> tuple[RawResponse, ResponseReader]:
    return exchange(server, f"GET {target} {version}\r\nHost: t\r\n\r\n".encode())


def read_until_close(sock: socket.socket) -> bytes:
    data = bytearray()
    while piece := sock.recv(65_536):
        data += piece
    return bytes(data)


def read_head_then_cut(server: ServerProcess, target: str) -> tuple[RawResponse, bytes]:
    """For responses cut mid-body: the head, and the raw body bytes before the close."""
    sock = connect("127.0.0.1", server.port)
    with sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        raw = read_until_close(sock)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    return RawResponse(int(status_line.split(" ")[1]), "", headers, body, head), body


def assert_closed_soon(markers: Markers, token: str) -> None:
    wait_until(lambda: markers.is_closed(token), 20.0, f"close() of {token}")


# -- start_response and exc_info --------------------------------------------


def test_second_start_response_without_exc_info_is_500(probe_server: ServerProcess) -> None:
    response, _ = get(probe_server, "/start-twice")
    assert response.status == 500
    assert b"should not be sent" not in response.body


def test_exc_info_before_headers_replaces_the_status(probe_server: ServerProcess) -> None:
    response, reader = get(probe_server, "/exc-info-before")
    assert response.status == 503
    assert response.body == b"replaced by the error page"
    assert SECRET.encode() not in response.body
    assert not reader.is_closed(0.2)  # a complete response: keep-alive holds


def test_exc_info_after_headers_closes_the_connection(probe_server: ServerProcess) -> None:
    head, body = read_head_then_cut(probe_server, "/exc-info-after")
    assert head.status == 200  # already sent: only closing can signal the failure
    assert head.header("transfer-encoding") == "chunked"
    assert b"headers are out" in body
    assert b"never sent" not in body
    assert not body.endswith(b"0\r\n\r\n")  # no last chunk: the client knows it is cut


@pytest.mark.parametrize(
    "name",
    [
        "Connection",
        "Keep-Alive",
        "Transfer-Encoding",
        "Upgrade",
        "TE",
        "Trailer",
        "Proxy-Authenticate",
        "proxy-authorization",
    ],
)
def test_hop_by_hop_header_from_app_is_500(probe_server: ServerProcess, name: str) -> None:
    response, _ = get(probe_server, f"/hop-by-hop?name={name}")
    assert response.status == 500
    assert b"should not be sent" not in response.body
    assert response.header_count(name) == 0 or name.lower() == "connection"


def test_write_callable_comes_before_the_iterable(probe_server: ServerProcess) -> None:
    response, _ = get(probe_server, "/write")
    assert response.status == 200
    assert response.body == b"written-1;written-2;returned"
    assert response.header("transfer-encoding") == "chunked"


# -- framing -------------------------------------------------------------------


def test_iterable_without_length_is_streamed_chunked(
    probe_server: ServerProcess, markers: Markers
) -> None:
    token = markers.new_token()
    response, reader = get(probe_server, f"/stream?count=4&token={token}")
    assert response.header("transfer-encoding") == "chunked"
    assert response.header("content-length") is None
    assert response.body == b"part 0\npart 1\npart 2\npart 3\n"
    assert_closed_soon(markers, token)
    assert not reader.is_closed(0.2)


def test_iterable_without_length_over_http_1_0_ends_with_close(probe_server: ServerProcess) -> None:
    response, _ = get(probe_server, "/stream?count=3", version="HTTP/1.0")
    assert response.header("transfer-encoding") is None  # no chunked coding in HTTP/1.0
    assert response.body == b"part 0\npart 1\npart 2\n"  # read until the close


def test_content_length_is_honoured(probe_server: ServerProcess, markers: Markers) -> None:
    token = markers.new_token()
    response, reader = get(probe_server, f"/length?declared=5&actual=5&token={token}")
    assert response.header("content-length") == "5"
    assert response.header("transfer-encoding") is None
    assert response.body == b"xxxxx"
    assert_closed_soon(markers, token)
    reader.sock.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
    assert reader.read_response().status == 200  # the connection stays usable


def test_body_longer_than_content_length_is_cut_to_it(
    probe_server: ServerProcess, markers: Markers
) -> None:
    token = markers.new_token()
    response, reader = get(probe_server, f"/length?declared=3&actual=10&token={token}")
    assert response.header("content-length") == "3"
    assert response.body == b"xxx"
    assert_closed_soon(markers, token)
    # No stray body bytes follow: the next thing on the wire is a close or a response.
    assert reader.is_closed(0.3) or not reader.buffer


def test_body_shorter_than_content_length_closes(
    probe_server: ServerProcess, markers: Markers
) -> None:
    token = markers.new_token()
    sock = connect("127.0.0.1", probe_server.port)
    with sock:
        sock.sendall(
            f"GET /length?declared=10&actual=3&token={token} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
        )
        reader = ResponseReader(sock)
        with pytest.raises(ConnectionError, match="3 of 10"):
            reader.read_response()
    assert_closed_soon(markers, token)


def test_head_of_a_streamed_response_has_no_body(probe_server: ServerProcess) -> None:
    response, reader = exchange(
        probe_server, b"HEAD /stream?count=3 HTTP/1.1\r\nHost: t\r\n\r\n", method="HEAD"
    )
    assert response.status == 200
    reader.sock.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
    follow_up = reader.read_response()  # had body bytes been sent, this would not parse
    assert follow_up.status == 200


# -- wsgi.file_wrapper ---------------------------------------------------------


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    data = os.urandom(300_001)
    path = tmp_path_factory.mktemp("files") / "data.bin"
    path.write_bytes(data)
    return path, data


def test_file_wrapper_sends_the_file(
    probe_server: ServerProcess, data_file: tuple[Path, bytes]
) -> None:
    path, data = data_file
    response = requests.get(probe_server.url("/file"), params={"path": str(path)}, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(data))
    assert "Transfer-Encoding" not in response.headers
    assert response.content == data


def test_file_wrapper_honours_a_shorter_content_length(
    probe_server: ServerProcess, data_file: tuple[Path, bytes]
) -> None:
    path, data = data_file
    response, reader = get(probe_server, f"/file?path={path}&length=1000")
    assert response.header("content-length") == "1000"
    assert response.body == data[:1000]
    reader.sock.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
    assert reader.read_response().status == 200


def test_file_wrapper_head_sends_length_only(
    probe_server: ServerProcess, data_file: tuple[Path, bytes]
) -> None:
    path, data = data_file
    response = requests.head(probe_server.url("/file"), params={"path": str(path)}, timeout=5)
    assert response.headers["Content-Length"] == str(len(data))
    assert response.content == b""
