"""Responses that carry no body (HEAD, 304, 204) with a Content-Length and an empty iterable.

Werkzeug (Flask) answers HEAD with the GET's Content-Length and an empty tuple;
a 304 may carry the 200's length. No body bytes are owed, so the response is
complete and the connection stays usable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from wsgiref.types import StartResponse, WSGIEnvironment

import pytest

from barehttp.wsgi.adapter import WSGIHandler
from tests.server.conftest import server_factory
from tests.server.rawhttp import ResponseReader, connect

GET_BODY = b"twelve bytes"


def empty_generator() -> Iterator[bytes]:
    yield from ()


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    method = environ["REQUEST_METHOD"]
    status = environ["PATH_INFO"].strip("/") or "200"
    start_response(f"{status} Whatever", [("Content-Length", str(len(GET_BODY)))])
    if method == "HEAD" or status in ("204", "304"):
        kind = environ["QUERY_STRING"]
        return [] if kind == "list" else () if kind == "tuple" else empty_generator()
    return [GET_BODY]


@pytest.mark.parametrize("kind", ["list", "tuple", "generator"])
@pytest.mark.parametrize(
    ("method", "status"), [("HEAD", 200), ("GET", 304)], ids=["head", "not-modified"]
)
def test_bodiless_response_with_content_length_is_complete(
    method: str, status: int, kind: str
) -> None:
    with server_factory() as start:
        server = start(WSGIHandler(app), access_log=False)
        sock = connect(server.host, server.port)
        server.sockets.append(sock)
        sock.sendall(
            b"%s /%d?%s HTTP/1.1\r\nHost: t\r\n\r\n" % (method.encode(), status, kind.encode())
        )
        reader = ResponseReader(sock)
        response = reader.read_response(method=method)
        assert response.status == status
        assert response.header("content-length") == str(len(GET_BODY))
        assert response.header("connection") is None  # nothing owed: keep-alive
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        follow_up = reader.read_response()
        assert (follow_up.status, follow_up.body) == (200, GET_BODY)
