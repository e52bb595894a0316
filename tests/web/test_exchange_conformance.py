"""One set of checks of the Exchange protocol, run against the real server and the fake.

Each case is a request and a script that drives an ``Exchange`` and records what
it saw (values, and which calls raised). It runs twice: inside a real ``Server``
on 127.0.0.1, through the public API only (the handler runs the script; a raw
socket client reads the response), and against ``FakeExchange`` from
tests/web/fakes.py. Both must record the same things and produce the same
response, as a client would see it: status, Content-Length, chunked or not,
whether the connection closes, the application's own fields and the body. So the
fake the web tests rely on cannot drift from what it stands in for.
"""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from barehttp.protocol.limits import Limits
from barehttp.server.handler import Exchange
from barehttp.server.server import Server
from tests.server.rawhttp import ResponseReader
from tests.web.fakes import FakeExchange

TIMEOUT_S = 10.0
Script = Callable[[Exchange], list[object]]
FILE_CONTENT = bytes(range(256)) * 8


def attempt(call: Callable[[], object]) -> str:
    """What a call did: "ok", or the kind of error it raised."""
    try:
        call()
    except RuntimeError:
        return "RuntimeError"
    return "ok"


@dataclass(frozen=True)
class Case:
    name: str
    script: Script
    method: str = "GET"
    target: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    chunked: bool = False


# -- the scripts ------------------------------------------------------------------


def complete_response(exchange: Exchange) -> list[object]:
    seen: list[object] = [exchange.headers_sent]
    exchange.send_response(200, [("X-Case", "complete")], b"hello")
    seen.append(exchange.headers_sent)
    seen.append(attempt(exchange.end))  # end() after a complete response
    seen.append(attempt(lambda: exchange.write(b"more")))
    seen.append(attempt(lambda: exchange.send_response(200, [], b"again")))
    return seen


def no_content(exchange: Exchange) -> list[object]:
    exchange.send_response(204, [("X-Case", "204")])
    return []


def not_modified_with_body(exchange: Exchange) -> list[object]:
    exchange.send_response(304, [("X-Case", "304")], b"the 200's body")
    return []


def fixed_length_stream(exchange: Exchange) -> list[object]:
    exchange.start_response(200, [("X-Case", "fixed")], content_length=11)
    seen: list[object] = [exchange.headers_sent]
    exchange.write(b"hello ")
    exchange.write(b"")
    exchange.write(b"world")
    exchange.end()
    seen.append(attempt(exchange.end))  # twice
    seen.append(attempt(lambda: exchange.write(b"late")))
    return seen


def chunked_stream(exchange: Exchange) -> list[object]:
    exchange.start_response(200, [("X-Case", "chunked")])
    seen: list[object] = [attempt(lambda: exchange.start_response(200, []))]
    seen.append(attempt(lambda: exchange.send_response(200, [], b"")))
    for piece in (b"one ", b"two ", b"three"):
        exchange.write(piece)
    exchange.end()
    return seen


def no_content_stream_with_length(exchange: Exchange) -> list[object]:
    exchange.start_response(204, [("X-Case", "204-stream")], content_length=5)
    exchange.end()
    return []


def out_of_order(exchange: Exchange) -> list[object]:
    with _file() as file:
        seen = [
            attempt(lambda: exchange.write(b"x")),
            attempt(lambda: exchange.send_file(file, 0, 4)),
            attempt(exchange.end),  # nothing started: nothing to end
            exchange.headers_sent,
        ]
    exchange.send_response(200, [("X-Case", "out-of-order")], b"answered")
    return seen


def send_file_slice(exchange: Exchange) -> list[object]:
    with _file() as file:
        exchange.start_response(206, [("X-Case", "file")], content_length=300)
        exchange.send_file(file, 100, 300)
    exchange.end()
    return []


def send_file_chunked(exchange: Exchange) -> list[object]:
    with _file() as file:
        exchange.start_response(200, [("X-Case", "file-chunked")])
        exchange.send_file(file, 0, 0)  # nothing
        exchange.send_file(file, 1_000, 48)
        exchange.write(b"!")
    exchange.end()
    return []


def read_whole_body(exchange: Exchange) -> list[object]:
    pieces = []
    while piece := exchange.read_body(1_000):
        pieces.append(piece)
    body = b"".join(pieces)
    seen: list[object] = [
        len(body),
        body == bytes(range(256)) * 40,
        all(len(piece) <= 1_000 for piece in pieces),
        exchange.read_body(),  # stays at the end
    ]
    exchange.send_response(200, [("X-Case", "read")], b"%d" % len(body))
    return seen


def read_chunked_body(exchange: Exchange) -> list[object]:
    body = b""
    while piece := exchange.read_body(7):
        body += piece
    exchange.send_response(200, [("X-Case", "read-chunked")], body)
    return [body, exchange.head.chunked, exchange.head.content_length]


def close_after(exchange: Exchange) -> list[object]:
    exchange.close_connection()
    exchange.send_response(200, [("X-Case", "close")], b"bye")
    return []


def request_view(exchange: Exchange) -> list[object]:
    head = exchange.head
    client_host, client_port = exchange.client_address
    server_host, server_port = exchange.server_address
    seen: list[object] = [
        head.method,
        head.target,
        head.path,
        head.query,
        head.http_version,
        head.headers.get("x-one"),
        head.headers.get_all("x-two"),
        head.content_length,
        head.chunked,
        exchange.is_tls,
        exchange.scheme,
        isinstance(client_host, str) and isinstance(client_port, int),
        isinstance(server_host, str) and isinstance(server_port, int),
    ]
    exchange.send_response(200, [("X-Case", "view")])
    return seen


def _file() -> Any:
    file = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
    file.write(FILE_CONTENT)
    file.seek(0)
    return file


CASES = [
    Case("complete-response", complete_response),
    Case("complete-response-head", complete_response, method="HEAD"),
    Case("no-content", no_content),
    Case("not-modified-with-body", not_modified_with_body),
    Case("fixed-length-stream", fixed_length_stream),
    Case("fixed-length-stream-head", fixed_length_stream, method="HEAD"),
    Case("chunked-stream", chunked_stream),
    Case("chunked-stream-head", chunked_stream, method="HEAD"),
    Case("no-content-stream-with-length", no_content_stream_with_length),
    Case("out-of-order", out_of_order),
    Case("send-file-slice", send_file_slice),
    Case("send-file-chunked", send_file_chunked),
    Case("read-body", read_whole_body, method="POST", body=bytes(range(256)) * 40),
    Case("read-chunked-body", read_chunked_body, method="POST", body=b"x" * 50, chunked=True),
    Case("close-connection", close_after),
    Case(
        "request-view",
        request_view,
        target="/a/b?c=d",
        headers=(("X-One", "1"), ("X-Two", "a"), ("X-Two", "b")),
    ),
]
SCRIPTS = {case.name: case.script for case in CASES}


# -- running a case ---------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    seen: list[object]
    status: int | None
    content_length: str | None
    chunked: bool
    closes: bool
    case_field: str | None
    body: bytes


def run_fake(case: Case) -> Outcome:
    exchange = FakeExchange(
        case.method, case.target, [("X-Script", case.name), *case.headers], case.body,
        chunked=case.chunked,
    )  # fmt: skip
    seen = case.script(exchange)
    return Outcome(
        seen,
        exchange.status,
        exchange.header("Content-Length"),
        exchange.streamed,
        exchange.connection_closed,
        exchange.header("X-Case"),
        exchange.body,
    )


class ScriptHandler:
    """Runs the script a request names, and keeps what it recorded."""

    def __init__(self) -> None:
        self.seen: dict[str, list[object]] = {}
        self.done: dict[str, threading.Event] = {}

    def expect(self, name: str) -> threading.Event:
        self.done[name] = threading.Event()
        return self.done[name]

    def __call__(self, exchange: Exchange) -> None:
        name = exchange.head.headers.get("x-script") or ""
        try:
            self.seen[name] = SCRIPTS[name](exchange)
        finally:
            self.done[name].set()


@pytest.fixture(scope="module")
def real_server() -> Iterator[tuple[ScriptHandler, int]]:
    handler = ScriptHandler()
    server = Server(handler, host="127.0.0.1", port=0, limits=Limits(), access_log=False)
    server.start()
    try:
        yield handler, server.addresses[0][1]
    finally:
        server.shutdown(timeout=2.0)


def request_bytes(case: Case) -> bytes:
    lines = [f"{case.method} {case.target} HTTP/1.1", "Host: t", f"X-Script: {case.name}"]
    lines += [f"{name}: {value}" for name, value in case.headers]
    body = case.body
    if case.chunked:
        lines.append("Transfer-Encoding: chunked")
        body = b"".join(b"%x\r\n%b\r\n" % (len(part), part) for part in (body[:20], body[20:]))
        body += b"0\r\n\r\n"
    elif body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def run_real(case: Case, handler: ScriptHandler, port: int) -> Outcome:
    done = handler.expect(case.name)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(request_bytes(case))
        response = ResponseReader(sock).read_response(method=case.method)
    assert done.wait(TIMEOUT_S), "the handler did not finish"
    return Outcome(
        handler.seen[case.name],
        response.status,
        response.header("content-length"),
        response.header("transfer-encoding") == "chunked",
        response.header("connection") == "close",
        response.header("x-case"),
        response.body,
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_fake_and_real_exchange_agree(case: Case, real_server: tuple[ScriptHandler, int]) -> None:
    handler, port = real_server
    real = run_real(case, handler, port)
    assert real.status is not None  # the real server answered the script's response
    assert run_fake(case) == real


def test_the_cases_tell_the_two_apart() -> None:
    """A fake that got one thing wrong would be caught (the suite is not vacuous)."""

    class SloppyFake(FakeExchange):
        def end(self) -> None:  # the real end() never raises
            raise RuntimeError("end twice")

    case = next(case for case in CASES if case.name == "fixed-length-stream")
    sloppy = SloppyFake(case.method, case.target, [("X-Script", case.name)])
    with pytest.raises(RuntimeError):
        case.script(sloppy)
