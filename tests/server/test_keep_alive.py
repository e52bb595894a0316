"""Persistent connections (RFC 9112 §9.3) and pipelining (§9.3.2) over real sockets."""

from __future__ import annotations

import http.client

import httpx
import requests

from tests.server.conftest import WAIT_S, RunningServer
from tests.server.handlers import HELLO
from tests.server.rawhttp import ResponseReader

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def test_http_client_sends_several_requests_on_one_socket(server: RunningServer) -> None:
    client = http.client.HTTPConnection(server.host, server.port, timeout=WAIT_S)
    try:
        ports = []
        for _ in range(5):
            client.request("GET", "/whoami")
            response = client.getresponse()
            assert response.status == 200
            assert response.getheader("Connection") is None  # 1.1 is persistent by default
            ports.append(response.read())
            if len(ports) == 1:
                first_socket = client.sock
        assert len(set(ports)) == 1
        assert client.sock is first_socket
    finally:
        client.close()


def test_requests_session_reuses_the_connection(server: RunningServer) -> None:
    with requests.Session() as session:
        ports = {session.get(server.url + "/whoami", timeout=WAIT_S).content for _ in range(5)}
    assert len(ports) == 1


def test_httpx_client_reuses_the_connection(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, timeout=WAIT_S) as client:
        ports = {client.get("/whoami").content for _ in range(5)}
    assert len(ports) == 1


def test_raw_socket_several_requests_in_turn(server: RunningServer) -> None:
    sock = server.connect()
    reader = ResponseReader(sock)
    for _ in range(3):
        sock.sendall(GET)
        response = reader.read_response()
        assert (response.status, response.body) == (200, HELLO)
    assert not reader.is_closed(timeout=0.3)  # still open, waiting for the next request


def test_connection_close_is_honoured(server: RunningServer) -> None:
    response, reader = server.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert (response.status, response.body) == (200, HELLO)
    assert response.header("connection") == "close"
    assert reader.is_closed()


def test_connection_close_stops_a_pipeline(server: RunningServer) -> None:
    """Requests after one with ``Connection: close`` are not answered (RFC 9112 §9.6)."""
    response, reader = server.send(
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + GET + GET
    )
    assert response.status == 200
    assert reader.is_closed()


def test_http10_closes_by_default(server: RunningServer) -> None:
    response, reader = server.send(b"GET / HTTP/1.0\r\n\r\n")
    assert (response.status, response.body) == (200, HELLO)
    assert response.raw_head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert response.header("connection") == "close"
    assert reader.is_closed()


def test_http10_keep_alive_is_honoured(server: RunningServer) -> None:
    request = b"GET /whoami HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    first, reader = server.send(request)
    assert first.header("connection") == "keep-alive"
    reader.sock.sendall(request)
    second = reader.read_response()
    assert second.body == first.body  # same client port: same connection
    assert not reader.is_closed(timeout=0.3)


def test_http10_streamed_response_is_delimited_by_close(server: RunningServer) -> None:
    """No chunked coding for 1.0 clients: the end of the body is the close."""
    response, reader = server.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert response.header("transfer-encoding") is None
    assert response.body == b"".join(b"part %d\n" % index for index in range(5))
    assert reader.is_closed()


def test_pipelined_requests_are_answered_in_order(server: RunningServer) -> None:
    sock = server.connect()
    sock.sendall(
        b"GET /whoami HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /status/204 HTTP/1.1\r\nHost: t\r\n\r\n"
        b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    reader = ResponseReader(sock)
    whoami = reader.read_response()
    assert whoami.body == str(sock.getsockname()[1]).encode()
    assert reader.read_response().status == 204
    head = reader.read_response(method="HEAD")
    assert head.header("content-length") == str(len(HELLO))
    stream = reader.read_response()
    assert stream.header("transfer-encoding") == "chunked"
    assert stream.body.startswith(b"part 0\n")
    last = reader.read_response()
    assert (last.status, last.body) == (200, HELLO)
    assert not reader.buffer
    assert not reader.is_closed(timeout=0.3)


def test_pipelined_request_after_a_post_body_that_was_read(server: RunningServer) -> None:
    sock = server.connect()
    sock.sendall(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world"
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n" + GET
    )
    reader = ResponseReader(sock)
    assert reader.read_response().body == b"hello world"
    assert reader.read_response().body == b"abcde"
    assert reader.read_response().body == HELLO


def test_pipelined_request_after_a_post_body_that_was_not_read(server: RunningServer) -> None:
    """The server drops the unread body and still finds the next request."""
    sock = server.connect()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nxxxxx" + GET + GET)
    reader = ResponseReader(sock)
    for _ in range(3):
        response = reader.read_response()
        assert (response.status, response.body) == (200, HELLO)


def test_pipelined_bytes_split_across_packets(server: RunningServer) -> None:
    sock = server.connect()
    data = GET * 3
    for index in range(0, len(data), 7):  # cuts heads at awkward places
        sock.sendall(data[index : index + 7])
    reader = ResponseReader(sock)
    for _ in range(3):
        assert reader.read_response().body == HELLO
