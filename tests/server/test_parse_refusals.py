"""Parser refusals over a real socket: CONNECT, and events that come before an error."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from barehttp.protocol.errors import HTTPError
from barehttp.server.handler import Exchange
from barehttp.server.hello import hello
from tests.server.conftest import StartServer
from tests.server.rawhttp import ResponseReader

# The bytes from the report: with CONNECT framed as an ordinary request, "hello" was
# its body and GET /next a second request, both answered 200.
CONNECT_THEN_GET = (
    b"CONNECT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
    b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
)
CHUNKED_HEAD = b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
BAD_CHUNKS = b"2\r\nok\r\nzz\r\n"  # one good chunk, then a size that is not hex


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until true or ``timeout`` passed; its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_connect_gets_501_and_close_from_the_hello_server(start_server: StartServer) -> None:
    server = start_server(handler=hello)
    for request in (CONNECT_THEN_GET, b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n"):
        response, reader = server.send(request)
        assert response.status == 501
        assert response.header("connection") == "close"
        assert response.body.startswith(b"501 ")
        assert reader.is_closed()  # GET /next was never answered


class RecordingHandler:
    """Reads the whole body; records each request it saw and the error reading raised."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.errors: list[int] = []
        self.entered = threading.Event()

    def __call__(self, exchange: Exchange) -> None:
        self.paths.append(exchange.head.path)
        self.entered.set()
        try:
            while exchange.read_body():
                pass
        except HTTPError as error:
            self.errors.append(error.status)
            raise
        exchange.send_response(200, [], b"read")


def test_head_and_bad_chunk_in_one_read_run_the_handler_as_in_two(
    start_server: StartServer,
) -> None:
    outcomes = []
    for pieces in ([CHUNKED_HEAD + BAD_CHUNKS], [CHUNKED_HEAD, BAD_CHUNKS]):
        handler = RecordingHandler()
        server = start_server(handler=handler)
        sock = server.connect()
        sock.sendall(pieces[0])
        if len(pieces) == 2:
            # The body is gathered before dispatch: the connection waits, parked.
            reactor = server.server.context.reactor
            assert wait_until(lambda parked=reactor: parked.parked_count == 1)
            assert not handler.entered.is_set()
            sock.sendall(pieces[1])
        reader = ResponseReader(sock)
        response = reader.read_response()
        assert reader.is_closed()
        outcomes.append((handler.paths, handler.errors, response.status))
    assert outcomes[0] == outcomes[1] == (["/upload"], [400], 400)
