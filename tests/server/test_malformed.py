"""Every class of malformed request gets its status over a real socket, then a close."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.server.conftest import WAIT_S, RunningServer, StartServer
from tests.server.rawhttp import ResponseReader

MAX_REQUEST_LINE_BYTES = 256
MAX_HEADER_BYTES = 1_024
MAX_BODY_BYTES = 1_000
CHUNKED_POST = b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"

CASES = [
    # 400: RFC 9112 §3 request-line grammar.
    pytest.param(b"GET /\r\n\r\n", 400, id="request-line-missing-version"),
    pytest.param(b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n", 400, id="request-line-double-space"),
    pytest.param(b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400, id="method-not-a-token"),
    pytest.param(b"GET / HTTP/1.1\nHost: t\n\n", 400, id="bare-lf-line-endings"),
    pytest.param(b"GET nowhere HTTP/1.1\r\nHost: t\r\n\r\n", 400, id="target-not-origin-form"),
    # 400: RFC 9112 §3.2 Host.
    pytest.param(b"GET / HTTP/1.1\r\n\r\n", 400, id="missing-host"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, id="two-hosts"),
    # 400: RFC 9112 §5 field lines.
    pytest.param(b"GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n", 400, id="obs-fold"),
    pytest.param(b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400, id="space-before-colon"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n", 400, id="field-without-colon"),
    # 400: RFC 9112 §6.3 / §7.1 framing (request smuggling vectors).
    pytest.param(
        CHUNKED_POST + b"zz\r\nab\r\n0\r\n\r\n",
        400,
        id="bad-chunk-size",
    ),
    pytest.param(
        CHUNKED_POST + b"2\r\nabc\r\n0\r\n\r\n",
        400,
        id="chunk-longer-than-size",
    ),
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        id="content-length-and-transfer-encoding",
    ),
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        400,
        id="differing-content-lengths",
    ),
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 4\r\n\r\nabcd",
        400,
        id="differing-content-length-list",
    ),
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: +3\r\n\r\nabc",
        400,
        id="non-digit-content-length",
    ),
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0x3\r\n\r\nabc",
        400,
        id="hex-content-length",
    ),
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        400,
        id="chunked-not-final",
    ),
    pytest.param(
        b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        id="transfer-encoding-in-http10",
    ),
    # 413 before any body byte is read.
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1),
        413,
        id="content-length-over-limit",
    ),
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n"
        % (MAX_BODY_BYTES + 1),
        413,
        id="chunk-size-over-limit",
    ),
    # 414, 431.
    pytest.param(
        b"GET /" + b"a" * MAX_REQUEST_LINE_BYTES + b" HTTP/1.1\r\nHost: t\r\n\r\n",
        414,
        id="request-line-too-long",
    ),
    pytest.param(
        b"GET /" + b"a" * (MAX_REQUEST_LINE_BYTES * 2),  # the line has not even ended yet
        414,
        id="request-line-too-long-unfinished",
    ),
    pytest.param(
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"v" * MAX_HEADER_BYTES + b"\r\n\r\n",
        431,
        id="header-section-too-large",
    ),
    pytest.param(
        b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-A: 1\r\n" * 120 + b"\r\n",
        431,
        id="too-many-header-fields",
    ),
    # 501, 505, 417.
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        501,
        id="unknown-transfer-coding",
    ),
    pytest.param(b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505, id="http-2"),
    pytest.param(b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505, id="http-3"),
    pytest.param(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: teapot\r\n\r\n",
        417,
        id="unknown-expectation",
    ),
]


@pytest.fixture(scope="module")
def strict_server(start_module_server: StartServer) -> RunningServer:
    return start_module_server(
        max_request_line_bytes=MAX_REQUEST_LINE_BYTES,
        max_header_bytes=MAX_HEADER_BYTES,
        max_body_bytes=MAX_BODY_BYTES,
    )


@pytest.fixture(autouse=True)
def close_clients(strict_server: RunningServer) -> Iterator[None]:
    yield
    strict_server.close_clients()
    # Every connection the test opened is closed and uncounted on the server side too.
    assert strict_server.wait_for_open_connections(0)


@pytest.mark.parametrize(("request_bytes", "status"), CASES)
def test_malformed_request_gets_status_and_close(
    strict_server: RunningServer, request_bytes: bytes, status: int
) -> None:
    response, reader = strict_server.send(request_bytes)
    assert response.status == status
    assert response.header("connection") == "close"
    assert response.header("content-type") == "text/plain; charset=utf-8"
    assert response.body.startswith(b"%d " % status)
    assert int(response.header("content-length") or -1) == len(response.body)
    assert reader.is_closed()


@pytest.mark.parametrize(("request_bytes", "status"), CASES)
def test_malformed_request_after_a_good_one(
    strict_server: RunningServer, request_bytes: bytes, status: int
) -> None:
    """The same on a kept-alive connection: the first response is unaffected."""
    sock = strict_server.connect()
    sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    reader = ResponseReader(sock)
    assert reader.read_response().status == 200
    sock.sendall(request_bytes)
    assert reader.read_response().status == status
    assert reader.is_closed()


def test_error_body_does_not_echo_the_request(strict_server: RunningServer) -> None:
    response, _ = strict_server.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-<script>: 1\r\n\r\n")
    assert response.status == 400
    assert b"<script>" not in response.body


def test_body_over_limit_sent_by_requests_gets_413(strict_server: RunningServer) -> None:
    """A real client sending the body at once still sees the 413, not a reset."""
    try:
        response = requests.post(
            strict_server.url + "/echo", data=b"x" * (MAX_BODY_BYTES * 100), timeout=WAIT_S
        )
    except requests.ConnectionError as error:
        pytest.fail(f"the 413 was lost: {error}")
    assert response.status_code == 413
