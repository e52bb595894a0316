"""Request bodies (fixed, chunked, 100-continue) and streamed chunked responses."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import httpx
import requests

from barehttp.web import App, Request, Response
from tests.server.conftest import WAIT_S, CurlRun, RunningServer, StartServer
from tests.server.rawhttp import ResponseReader

STREAM_BODY = b"".join(b"part %d\n" % index for index in range(5))


def test_chunked_request_body_over_raw_socket(server: RunningServer) -> None:
    sock = server.connect()
    sock.sendall(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=ignored\r\nhello\r\n1\r\n \r\n"
    )
    sock.sendall(b"5\r\nworld\r\n0\r\nX-Trailer: yes\r\n\r\n")  # a later packet, with a trailer
    response = ResponseReader(sock).read_response()
    assert (response.status, response.body) == (200, b"hello world")


def test_chunked_request_body_from_http_client(server: RunningServer) -> None:
    client = http.client.HTTPConnection(server.host, server.port, timeout=WAIT_S)
    try:
        chunks = (bytes([65 + index]) * 1_000 for index in range(26))
        client.request("POST", "/echo", body=chunks, encode_chunked=True)
        response = client.getresponse()
        body = response.read()
        assert response.status == 200
        assert body == b"".join(bytes([65 + index]) * 1_000 for index in range(26))
    finally:
        client.close()


def test_chunked_request_body_from_requests_and_httpx(server: RunningServer) -> None:
    def generate() -> Iterator[bytes]:
        yield b"first,"
        yield b"second"

    posted = requests.post(server.url + "/echo", data=generate(), timeout=WAIT_S)
    assert (posted.status_code, posted.content) == (200, b"first,second")
    with httpx.Client(timeout=WAIT_S) as client:
        sent = client.post(server.url + "/echo", content=generate())
        assert sent.request.headers["transfer-encoding"] == "chunked"
        assert (sent.status_code, sent.content) == (200, b"first,second")


def test_chunked_request_body_read_by_web_request(start_server: StartServer) -> None:
    app = App()

    @app.post("/upload")
    def upload(request: Request) -> Response:
        return Response(b"%d:%b" % (len(request.body), request.body[:10]))

    server = start_server(app)
    response, _ = server.send(
        b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"a\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n"
    )
    assert (response.status, response.body) == (200, b"20:0123456789")


def test_chunked_response_is_dechunked_by_http_client(server: RunningServer) -> None:
    client = http.client.HTTPConnection(server.host, server.port, timeout=WAIT_S)
    try:
        client.request("GET", "/stream")
        response = client.getresponse()
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert response.getheader("Content-Length") is None
        assert response.read() == STREAM_BODY
        client.request("GET", "/")  # the last-chunk ended the body cleanly
        assert client.getresponse().read() == b"Hello, World!"
    finally:
        client.close()


def test_chunked_response_on_the_wire(server: RunningServer) -> None:
    sock = server.connect()
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := sock.recv(65_536):
        data += chunk
    _, _, body = data.partition(b"\r\n\r\n")
    assert body == b"".join(b"7\r\npart %d\n\r\n" % index for index in range(5)) + b"0\r\n\r\n"


def test_chunked_response_through_curl(server: RunningServer, curl: CurlRun) -> None:
    result = curl("--include", server.url + "/stream")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert body == STREAM_BODY
    raw = curl("--raw", server.url + "/stream")
    assert raw.stdout.endswith(b"0\r\n\r\n")


def test_streamed_web_response(start_server: StartServer, curl: CurlRun) -> None:
    app = App()

    @app.get("/lines")
    def lines(request: Request) -> Response:
        return Response(b"line %d\n" % index for index in range(100))

    server = start_server(app)
    result = curl(server.url + "/lines")
    assert result.stdout == b"".join(b"line %d\n" % index for index in range(100))


def test_continue_is_sent_before_the_body_when_the_handler_reads_it(server: RunningServer) -> None:
    sock = server.connect()
    sock.sendall(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n"
    )
    reader = ResponseReader(sock)
    interim = reader.read_response()  # before any body byte was sent
    assert interim.raw_head == b"HTTP/1.1 100 Continue"
    sock.sendall(b"payload")
    final = reader.read_response()
    assert (final.status, final.body) == (200, b"payload")
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")  # the connection is still usable
    assert reader.read_response().status == 200


def test_no_continue_when_the_handler_does_not_read_the_body(server: RunningServer) -> None:
    # Over body_prebuffer_bytes: a smaller body the server gathers itself, after its own 100.
    sock = server.connect()
    sock.sendall(
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 70000\r\nExpect: 100-continue\r\n\r\n"
    )
    reader = ResponseReader(sock)
    response = reader.read_response()
    assert response.status == 200  # the final response comes first: no 100 at all
    assert b"100 Continue" not in response.raw_head
    # The body was never asked for, so the connection cannot be reused (RFC 9110 §10.1.1).
    assert response.header("connection") == "close"
    assert reader.is_closed()


def test_continue_through_curl(server: RunningServer, curl: CurlRun) -> None:
    result = curl(
        "--verbose",
        "--header",
        "Expect: 100-continue",
        "--data-binary",
        "x" * 5_000,
        server.url + "/echo",
    )
    assert result.stdout == b"x" * 5_000
    assert b"HTTP/1.1 100 Continue" in result.stderr


def test_large_fixed_body_through_requests(server: RunningServer) -> None:
    payload = bytes(range(256)) * 3_000  # 768 KB, under the 1 MiB default limit
    posted = requests.post(server.url + "/echo", data=payload, timeout=WAIT_S)
    assert posted.status_code == 200
    assert posted.content == payload
