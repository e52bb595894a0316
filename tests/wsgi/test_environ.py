"""Every environ key (PEP 3333 §"environ Variables") against what the client sent."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.server.rawhttp import RawResponse, ResponseReader, connect
from tests.wsgi.conftest import StartProcess
from tests.wsgi.process import ServerProcess

Environ = dict[str, object]


def send_raw(server: ServerProcess, request: bytes) -> tuple[RawResponse, int]:
    """One raw request on a new connection; returns the response and the client's port."""
    sock = connect("127.0.0.1", server.port)
    try:
        sock.sendall(request)
        response = ResponseReader(sock).read_response()
        return response, sock.getsockname()[1]
    finally:
        sock.close()


def raw_environ(server: ServerProcess, request: bytes) -> tuple[Environ, int]:
    response, client_port = send_raw(server, request)
    assert response.status == 200, response
    environ: Environ = json.loads(response.body)
    return environ, client_port


def get_environ(server: ServerProcess, path: str, **options: object) -> Environ:
    response = requests.get(server.url(path), timeout=5, **options)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    environ: Environ = response.json()
    return environ


def test_server_and_connection_keys(probe_server: ServerProcess) -> None:
    environ, client_port = raw_environ(
        probe_server, b"GET /environ HTTP/1.1\r\nHost: example.test:8080\r\n\r\n"
    )
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["SCRIPT_NAME"] == ""
    assert environ["PATH_INFO"] == "/environ"
    assert environ["QUERY_STRING"] == ""
    assert environ["SERVER_NAME"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == str(probe_server.port)
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["REMOTE_PORT"] == str(client_port)
    assert environ["HTTP_HOST"] == "example.test:8080"
    assert "CONTENT_TYPE" not in environ
    assert "CONTENT_LENGTH" not in environ


def test_wsgi_keys(probe_server: ServerProcess) -> None:
    environ = get_environ(probe_server, "/environ")
    assert environ["wsgi.version"] == [1, 0]
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is False  # one process without --workers
    assert environ["wsgi.run_once"] is False
    assert environ["wsgi.errors:can_write"] is True
    assert environ["wsgi.input"] == "WSGIInput"
    assert environ["wsgi.file_wrapper"] == "type"
    assert "wsgi.input_terminated" not in environ  # no chunked body


def test_http_1_0_protocol(probe_server: ServerProcess) -> None:
    environ, _ = raw_environ(probe_server, b"GET /environ HTTP/1.0\r\n\r\n")
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.0"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_request_method(probe_server: ServerProcess, method: str) -> None:
    response = requests.request(method, probe_server.url("/environ"), timeout=5)
    assert response.json()["REQUEST_METHOD"] == method


@pytest.mark.parametrize(
    ("target", "path_info", "query_string"),
    [
        ("/environ/plain", "/environ/plain", ""),
        # PEP 3333: PATH_INFO is decoded, its bytes carried as latin-1 "bytes as str".
        ("/caf%C3%A9", "/caf\xc3\xa9", ""),
        ("/environ/a%2Fb%25c%20d", "/environ/a/b%c d", ""),
        # QUERY_STRING stays exactly as sent, still encoded.
        ("/environ?a=1&b=%20x&c=caf%C3%A9&d", "/environ", "a=1&b=%20x&c=caf%C3%A9&d"),
    ],
    ids=["plain", "utf8-as-latin1", "reserved-decoded", "query-not-decoded"],
)
def test_path_info_and_query_string(
    probe_server: ServerProcess, target: str, path_info: str, query_string: str
) -> None:
    environ, _ = raw_environ(probe_server, b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % target.encode())
    assert environ["PATH_INFO"] == path_info
    assert environ["QUERY_STRING"] == query_string


def test_raw_non_ascii_path_byte_is_refused(probe_server: ServerProcess) -> None:
    # RFC 9112 §3.2 / RFC 3986: a request-target is ASCII; 0xE9 must come as %E9.
    response, _ = send_raw(probe_server, b"GET /caf\xe9%41 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert response.status == 400


def test_connect_is_refused_with_501_and_close(probe_server: ServerProcess) -> None:
    # RFC 9110 §9.3.6: never framed as a request with a body, never passed to the app.
    for request in (
        b"CONNECT / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
        b"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n",
    ):
        response, _ = send_raw(probe_server, request)
        assert (response.status, response.header("connection")) == (501, "close")


def test_content_type_and_length_are_not_http_prefixed(probe_server: ServerProcess) -> None:
    response = requests.post(
        probe_server.url("/environ"),
        data=b"a=1&b=2",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    environ = response.json()
    assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert environ["CONTENT_LENGTH"] == "7"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ


def test_http_headers(probe_server: ServerProcess) -> None:
    environ, _ = raw_environ(
        probe_server,
        b"GET /environ HTTP/1.1\r\n"
        b"Host: t\r\n"
        b"X-Custom-Thing: value 1\r\n"
        b"X-Repeat: first\r\n"
        b"User-Agent: probe/1.0\r\n"
        b"x-repeat: second\r\n"
        b"X-Repeat: third, fourth\r\n"
        b"Accept: text/html\r\n"
        b"Cookie: a=1\r\n"
        b"Cookie: b=2\r\n"
        b"X-User_Id: spoofed\r\n"
        b"\r\n",
    )
    assert environ["HTTP_X_CUSTOM_THING"] == "value 1"
    assert environ["HTTP_USER_AGENT"] == "probe/1.0"
    assert environ["HTTP_ACCEPT"] == "text/html"
    # RFC 9110 §5.3: repeated fields are joined with ", " in order.
    assert environ["HTTP_X_REPEAT"] == "first, second, third, fourth"
    # RFC 6265 §5.4: cookies are joined with "; ".
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    # A name with "_" would collide with X-User-Id once mapped: it is dropped.
    assert "HTTP_X_USER_ID" not in environ
    assert not [key for key in environ if "USER" in key and key != "HTTP_USER_AGENT"]


def test_chunked_body_sets_input_terminated(probe_server: ServerProcess) -> None:
    environ, _ = raw_environ(
        probe_server,
        b"POST /environ HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: text/plain\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    assert environ["wsgi.input_terminated"] is True
    assert "CONTENT_LENGTH" not in environ
    assert "HTTP_TRANSFER_ENCODING" in environ  # passed through, like any header
    assert environ["CONTENT_TYPE"] == "text/plain"


@pytest.fixture(scope="module")
def prefixed_server(start_module_process: StartProcess) -> Iterator[ServerProcess]:
    yield start_module_process("tests.wsgi.apps.probe:app", "--root-path", "/prefix/")


@pytest.mark.parametrize(
    ("target", "path_info"),
    [
        ("/prefix/environ", "/environ"),
        ("/prefix", ""),
        ("/prefix/environ/caf%C3%A9", "/environ/caf\xc3\xa9"),
        ("/pre%66ix/environ", "/environ"),  # the prefix is matched after decoding
    ],
    ids=["under-prefix", "prefix-itself", "decoded-under-prefix", "encoded-prefix"],
)
def test_root_path_becomes_script_name(
    prefixed_server: ServerProcess, target: str, path_info: str
) -> None:
    environ, _ = raw_environ(
        prefixed_server, b"GET %s?q=1 HTTP/1.1\r\nHost: t\r\n\r\n" % target.encode()
    )
    assert environ["SCRIPT_NAME"] == "/prefix"  # the trailing "/" of --root-path is dropped
    assert environ["PATH_INFO"] == path_info
    assert environ["QUERY_STRING"] == "q=1"
