from collections.abc import Iterator

import pytest

from barehttp.web.cookies import InvalidCookie
from barehttp.web.response import HTMLResponse, JSONResponse, RedirectResponse, Response
from tests.web.fakes import FakeExchange


def send(response: Response, method: str = "GET") -> FakeExchange:
    exchange = FakeExchange(method, "/")
    response.send(exchange)
    return exchange


@pytest.mark.parametrize(
    ("response", "content_type", "body"),
    [
        (Response(b"\x00raw"), None, b"\x00raw"),
        (Response("caf\u00e9"), "text/plain; charset=utf-8", "caf\u00e9".encode()),
        (Response.text("hi"), "text/plain; charset=utf-8", b"hi"),
        (HTMLResponse("<p>hi</p>"), "text/html; charset=utf-8", b"<p>hi</p>"),
        (Response(b"a,b", media_type="text/csv"), "text/csv; charset=utf-8", b"a,b"),
        (
            Response(b"x", media_type="text/plain; charset=latin-1"),
            "text/plain; charset=latin-1",
            b"x",
        ),
        (Response(b"{}", media_type="image/png"), "image/png", b"{}"),
        (
            JSONResponse({"name": "caf\u00e9", "n": [1, None]}),
            "application/json",
            '{"name":"caf\u00e9","n":[1,null]}'.encode(),
        ),
    ],
    ids=[
        "bytes-no-type",
        "str-defaults-to-text-plain",
        "text",
        "html",
        "text-type-gets-charset",
        "explicit-charset-kept",
        "binary-type-no-charset",
        "json-compact-utf8",
    ],
)
def test_complete_response(response: Response, content_type: str | None, body: bytes) -> None:
    exchange = send(response)
    assert exchange.status == 200
    assert exchange.header("content-type") == content_type
    assert exchange.body == body
    assert exchange.header("content-length") == str(len(body))
    assert not exchange.streamed


def test_explicit_content_type_header_wins() -> None:
    response = HTMLResponse("x", headers=[("content-type", "application/xhtml+xml")])
    assert send(response).header_values("content-type") == ["application/xhtml+xml"]


def test_json_response_rejects_nan() -> None:
    with pytest.raises(ValueError):
        JSONResponse({"x": float("nan")})


@pytest.mark.parametrize(
    ("url", "status", "location"),
    [
        ("/home", 303, "/home"),
        ("https://example.com/a?b=1#c", 303, "https://example.com/a?b=1#c"),
        ("/caf\u00e9 x", 303, "/caf%C3%A9%20x"),
        ("/a\r\nSet-Cookie: admin=1", 303, "/a%0D%0ASet-Cookie:%20admin=1"),
        ("/moved", 301, "/moved"),
    ],
    ids=["path", "absolute-url-kept", "non-ascii-encoded", "crlf-injection-encoded", "status"],
)
def test_redirect(url: str, status: int, location: str) -> None:
    exchange = send(RedirectResponse(url, status))
    assert exchange.status == status
    assert exchange.header("location") == location
    assert exchange.body == b""


def test_set_and_delete_cookie() -> None:
    response = Response(b"")
    response.set_cookie("sid", "abc", max_age=60, secure=True, httponly=True)
    response.delete_cookie("old", path="/app")
    assert send(response).header_values("set-cookie") == [
        "sid=abc; Max-Age=60; Path=/; Secure; HttpOnly; SameSite=Lax",
        "old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; SameSite=Lax",
    ]


def test_set_cookie_refuses_injection() -> None:
    response = Response(b"")
    with pytest.raises(InvalidCookie):
        response.set_cookie("sid", "x\r\nLocation: https://evil.example")
    assert response.headers == []


@pytest.mark.parametrize(
    "header",
    [("X-A", "1\r\nX-B: 2"), ("X-A", "1\n"), ("X-A", "\x00"), ("X A", "1"), ("X-A:", "1")],
    ids=["value-crlf", "value-lf", "value-nul", "name-space", "name-colon"],
)
def test_send_refuses_header_injection(header: tuple[str, str]) -> None:
    exchange = FakeExchange()
    with pytest.raises(ValueError):
        Response(b"", headers=[header]).send(exchange)
    assert not exchange.headers_sent


def test_streaming_response_is_chunked() -> None:
    exchange = send(Response(iter([b"one", b"", b"two"]), media_type="text/plain"))
    assert exchange.streamed
    assert exchange.ended
    assert exchange.chunks == [b"one", b"two"]  # empty pieces never reach the wire
    assert exchange.header("content-length") is None
    assert exchange.header("content-type") == "text/plain; charset=utf-8"


def test_streaming_generator_is_closed_after_sending() -> None:
    events: list[str] = []

    def produce() -> Iterator[bytes]:
        try:
            yield b"a"
            yield b"b"
        finally:
            events.append("cleanup")

    send(Response(produce()))
    assert events == ["cleanup"]


def test_streaming_head_does_not_run_the_body() -> None:
    produced: list[bytes] = []

    def produce() -> Iterator[bytes]:
        produced.append(b"a")
        yield b"a"

    exchange = send(Response(produce()), method="HEAD")
    assert exchange.ended
    assert produced == []


def test_complete_head_keeps_content_length() -> None:
    exchange = send(Response(b"hello"), method="HEAD")
    assert exchange.header("content-length") == "5"
    assert exchange.body == b""
