"""GET, HEAD and POST through real clients: http.client, requests, httpx and curl."""

from __future__ import annotations

import email.utils
import http.client

import httpx
import requests

from barehttp.server.handler import Exchange
from tests.server.conftest import WAIT_S, CurlRun, RunningServer, StartServer
from tests.server.handlers import HELLO


def open_client(server: RunningServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(server.host, server.port, timeout=WAIT_S)


def assert_standard_headers(headers: dict[str, str], body_length: int) -> None:
    """Server, a parseable Date, and a Content-Length matching the body."""
    assert headers["server"] == "barehttp"
    assert email.utils.parsedate_to_datetime(headers["date"]).tzname() == "UTC"
    assert headers["content-length"] == str(body_length)


def test_get_with_http_client(server: RunningServer) -> None:
    client = open_client(server)
    try:
        client.request("GET", "/")
        response = client.getresponse()
        body = response.read()
        assert response.status == 200
        assert response.version == 11
        assert body == HELLO
        assert_standard_headers({k.lower(): v for k, v in response.getheaders()}, len(HELLO))
        assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
    finally:
        client.close()


def test_head_has_get_length_and_no_body(server: RunningServer) -> None:
    client = open_client(server)
    try:
        client.request("HEAD", "/")
        response = client.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Length") == str(len(HELLO))
        assert response.read() == b""
        # Had any body byte been sent, it would now be read as the next status line.
        client.request("GET", "/")
        follow_up = client.getresponse()
        assert (follow_up.status, follow_up.read()) == (200, HELLO)
    finally:
        client.close()


def test_head_over_raw_socket_sends_no_body_bytes(server: RunningServer) -> None:
    response, reader = server.send(
        b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n", method="HEAD"
    )
    assert response.header("content-length") == str(len(HELLO))
    follow_up = reader.read_response()
    assert (follow_up.status, follow_up.body) == (200, HELLO)


def test_post_with_http_client(server: RunningServer) -> None:
    client = open_client(server)
    try:
        client.request("POST", "/echo", body=b"ping=1&pong=2")
        response = client.getresponse()
        assert (response.status, response.read()) == (200, b"ping=1&pong=2")
        assert response.getheader("X-Body-Length") == "13"
    finally:
        client.close()


def test_requests_get_head_post(server: RunningServer) -> None:
    with requests.Session() as session:
        got = session.get(server.url + "/", timeout=WAIT_S)
        assert (got.status_code, got.content) == (200, HELLO)
        assert_standard_headers(dict(got.headers.lower_items()), len(HELLO))
        head = session.head(server.url + "/", timeout=WAIT_S)
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["Content-Length"] == str(len(HELLO))
        payload = bytes(range(256)) * 1_000
        posted = session.post(server.url + "/echo", data=payload, timeout=WAIT_S)
        assert (posted.status_code, posted.content) == (200, payload)


def test_httpx_get_head_post(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url, timeout=WAIT_S) as client:
        got = client.get("/")
        assert (got.status_code, got.content, got.http_version) == (200, HELLO, "HTTP/1.1")
        assert_standard_headers(dict(got.headers), len(HELLO))
        head = client.head("/")
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(len(HELLO))
        posted = client.post("/echo", content=b"hello from httpx")
        assert (posted.status_code, posted.content) == (200, b"hello from httpx")


def test_curl_get_head_post(server: RunningServer, curl: CurlRun) -> None:
    got = curl("--include", server.url + "/")
    head, _, body = got.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nServer: barehttp\r\n" in head
    assert b"\r\nDate: " in head
    assert b"\r\nContent-Length: 13\r\n" in head + b"\r\n"
    assert body == HELLO

    head_only = curl("--head", server.url + "/")
    assert head_only.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 13\r\n" in head_only.stdout
    assert head_only.stdout.endswith(b"\r\n\r\n")  # no body bytes after the head

    posted = curl("--data-binary", "curl body", server.url + "/echo")
    assert posted.stdout == b"curl body"


def test_curl_reuses_one_connection(server: RunningServer, curl: CurlRun) -> None:
    result = curl("--verbose", server.url + "/whoami", server.url + "/whoami")
    ports = result.stdout
    assert len(ports) > 0 and ports[: len(ports) // 2] == ports[len(ports) // 2 :]
    assert b"Re-using existing connection" in result.stderr


def test_no_content_has_no_body_and_no_length(server: RunningServer) -> None:
    response, reader = server.send(
        b"GET /status/204 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    assert response.status == 204
    assert response.header("content-length") is None  # RFC 9110 §8.6
    assert response.header("transfer-encoding") is None
    follow_up = reader.read_response()  # would fail to parse if 204 had carried bytes
    assert (follow_up.status, follow_up.body) == (200, HELLO)


def test_not_modified_has_no_body(server: RunningServer) -> None:
    response, reader = server.send(
        b"GET /status/304 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    assert response.status == 304
    assert response.header("transfer-encoding") is None
    follow_up = reader.read_response()
    assert (follow_up.status, follow_up.body) == (200, HELLO)


def test_not_modified_without_body_claims_no_length(start_server: StartServer) -> None:
    """RFC 9110 §8.6: a 304's Content-Length, if any, must be the 200's length, never 0."""

    def not_modified(exchange: Exchange) -> None:
        exchange.send_response(304, [("ETag", '"v1"')])

    server = start_server(not_modified)
    response, _ = server.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.status == 304
    assert response.header("content-length") is None
    assert response.header("etag") == '"v1"'
