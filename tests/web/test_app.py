import logging
import threading
from collections.abc import Iterator

import pytest

from barehttp.protocol.errors import BadRequest, HTTPError, ServiceUnavailable
from barehttp.web import App, HTMLResponse, NotFound, Request, Response
from tests.web.fakes import FakeExchange

SECRET = "password=hunter2"


def call(app: App, method: str = "GET", target: str = "/", **options: object) -> FakeExchange:
    exchange = FakeExchange(method, target, **options)  # type: ignore[arg-type]
    app(exchange)
    return exchange


@pytest.fixture
def app() -> App:
    app = App()

    @app.get("/")
    def index(request: Request) -> Response:
        return Response.text("home")

    @app.get("/hello/{name}")
    def hello(request: Request) -> Response:
        return Response.text(f"hello {request.params['name']}")

    @app.post("/echo")
    def echo(request: Request) -> Response:
        return Response(request.body, media_type="application/octet-stream")

    @app.route(["PUT", "PATCH"], "/thing")
    def thing(request: Request) -> Response:
        return Response.text(request.method)

    @app.get("/crash")
    def crash(request: Request) -> Response:
        raise RuntimeError(SECRET)

    @app.get("/missing")
    def missing(request: Request) -> Response:
        raise NotFound("no such <script>thing</script>")

    @app.get("/teapot")
    def teapot(request: Request) -> Response:
        raise BadRequest()

    @app.get("/db-down")
    def db_down(request: Request) -> Response:
        raise HTTPError(f"database at 10.0.0.5 refused: {SECRET}")

    @app.get("/maintenance")
    def maintenance(request: Request) -> Response:
        raise ServiceUnavailable("back at 17:00")

    @app.get("/nothing")
    def nothing(request: Request) -> Response:
        return None  # type: ignore[return-value]

    @app.get("/stream")
    def stream(request: Request) -> Response:
        return Response(iter([b"a", b"b", b"c"]))

    @app.get("/stream-crash")
    def stream_crash(request: Request) -> Response:
        def produce() -> Iterator[bytes]:
            yield b"partial"
            raise RuntimeError(SECRET)

        return Response(produce())

    @app.get("/bad-header")
    def bad_header(request: Request) -> Response:
        return Response(b"", headers=[("X-A", "1\r\nX-B: 2")])

    app.add_route("GET", "/added", lambda request: Response.text("added"))
    app.mount("/static/", lambda request: Response.text(f"file {request.params['path']}"))
    return app


@pytest.mark.parametrize(
    ("method", "target", "status", "body"),
    [
        ("GET", "/", 200, b"home"),
        ("GET", "/hello/w%C3%B6rld", 200, "hello w\u00f6rld".encode()),
        ("PATCH", "/thing", 200, b"PATCH"),
        ("GET", "/added", 200, b"added"),
        ("GET", "/static/css/site.css", 200, b"file css/site.css"),
        ("HEAD", "/", 200, b""),
        ("GET", "/nope", 404, b"404 Not Found\n"),
        ("GET", "/%FF", 400, b"400 Bad Request\nrequest path is not valid UTF-8\n"),
        ("GET", "/teapot", 400, b"400 Bad Request\n"),
        ("GET", "/db-down", 500, b"500 Internal Server Error\n"),
        ("GET", "/maintenance", 503, b"503 Service Unavailable\nback at 17:00\n"),
    ],
    ids=[
        "route",
        "params-decoded",
        "route-with-method-list",
        "add-route",
        "mount",
        "head-from-get",
        "not-found",
        "undecodable-path",
        "http-error-from-handler",
        "explicit-500-message-hidden",
        "503-message-shown",
    ],
)
def test_answers(app: App, method: str, target: str, status: int, body: bytes) -> None:
    exchange = call(app, method, target)
    assert (exchange.status, exchange.body) == (status, body)


def test_head_keeps_content_length_of_get(app: App) -> None:
    exchange = call(app, "HEAD", "/")
    assert exchange.header("content-length") == "4"


def test_method_not_allowed_carries_allow(app: App) -> None:
    exchange = call(app, "DELETE", "/")
    assert exchange.status == 405
    assert exchange.header("allow") == "GET, HEAD, OPTIONS"


def test_error_page_is_plain_text_and_not_sniffable(app: App) -> None:
    exchange = call(app, "GET", "/missing")
    assert exchange.status == 404
    assert exchange.header("content-type") == "text/plain; charset=utf-8"
    assert exchange.header("x-content-type-options") == "nosniff"
    assert exchange.body == b"404 Not Found\nno such <script>thing</script>\n"


def own_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records this thread logged (the app runs in it): a server of an earlier test
    may still be ending in another thread, and caplog takes every thread's."""
    return [record for record in caplog.records if record.thread == threading.get_ident()]


@pytest.mark.parametrize(
    "target", ["/crash", "/nothing", "/bad-header"], ids=["exception", "no-response", "bad-header"]
)
def test_unexpected_failure_is_a_logged_500_without_details(
    app: App, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="barehttp.web"):
        exchange = call(app, "GET", target)
    assert exchange.status == 500
    assert exchange.body == b"500 Internal Server Error\n"
    assert b"Traceback" not in exchange.body
    assert SECRET.encode() not in exchange.body
    assert all(SECRET not in value for _, value in exchange.response_headers)
    [record] = own_records(caplog)
    assert record.name == "barehttp.web"
    assert record.exc_info is not None  # the traceback goes to the log


def test_crash_mid_stream_closes_connection_without_ending(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="barehttp.web"):
        exchange = call(app, "GET", "/stream-crash")
    assert exchange.status == 200
    assert exchange.body == b"partial"
    assert exchange.connection_closed
    assert not exchange.ended  # no last-chunk: the client can tell the body is cut short
    assert own_records(caplog)[0].exc_info is not None


def test_streaming_response(app: App) -> None:
    exchange = call(app, "GET", "/stream")
    assert exchange.streamed
    assert exchange.ended
    assert exchange.chunks == [b"a", b"b", b"c"]


def test_request_body_over_app_limit_is_413() -> None:
    from barehttp.protocol.limits import Limits

    app = App(limits=Limits(max_body_bytes=10))
    app.add_route("POST", "/", lambda request: Response(request.body))
    exchange = call(app, "POST", "/", body=b"x" * 11)
    assert exchange.status == 413
    assert exchange.connection_closed
    assert exchange.body_bytes_read == 0


def test_invalid_json_is_400() -> None:
    app = App()
    app.add_route("POST", "/", lambda request: Response(repr(request.json())))
    exchange = call(app, "POST", "/", headers=[("Content-Type", "application/json")], body=b"{")
    assert exchange.status == 400


def test_custom_error_handler_replaces_page(app: App) -> None:
    @app.error_handler(404)
    def friendly(request: Request, error: HTTPError) -> Response:
        return HTMLResponse(f"<h1>Lost?</h1><p>{request.path} {error.status}</p>", 404)

    exchange = call(app, "GET", "/nope")
    assert exchange.status == 404
    assert exchange.header("content-type") == "text/html; charset=utf-8"
    assert exchange.body == b"<h1>Lost?</h1><p>/nope 404</p>"
    assert call(app, "GET", "/teapot").body == b"400 Bad Request\n"  # other statuses untouched


def test_custom_500_handler_sees_no_exception_text(app: App) -> None:
    messages: list[str] = []

    @app.error_handler(500)
    def oops(request: Request, error: HTTPError) -> Response:
        messages.append(error.message)
        return Response.text("sorry", 500)

    exchange = call(app, "GET", "/crash")
    assert (exchange.status, exchange.body) == (500, b"sorry")
    assert messages == ["Internal Server Error"]


def test_custom_405_handler_still_gets_allow(app: App) -> None:
    app.error_handler(405)(lambda request, error: Response.text("nope", 405))
    exchange = call(app, "POST", "/")
    assert exchange.body == b"nope"
    assert exchange.header("allow") == "GET, HEAD, OPTIONS"


def test_failing_error_handler_falls_back_to_default_page(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    @app.error_handler(404)
    def broken(request: Request, error: HTTPError) -> Response:
        raise RuntimeError(SECRET)

    with caplog.at_level(logging.ERROR, logger="barehttp.web"):
        exchange = call(app, "GET", "/nope")
    assert (exchange.status, exchange.body) == (404, b"404 Not Found\n")
    assert own_records(caplog)[0].exc_info is not None


def test_client_disconnect_propagates_to_server() -> None:
    class BrokenExchange(FakeExchange):
        def send_response(
            self, status: int, headers: list[tuple[str, str]], body: bytes = b""
        ) -> None:
            raise BrokenPipeError

    app = App()
    app.add_route("GET", "/", lambda request: Response.text("x"))
    with pytest.raises(BrokenPipeError):
        app(BrokenExchange())


def test_run_passes_limits_and_options_to_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    calls: list[dict[str, object]] = []
    module = types.ModuleType("barehttp.server.serve")
    module.serve = lambda handler, **options: calls.append({"handler": handler, **options})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "barehttp.server.serve", module)
    app = App()
    hooks = [lambda: None]
    app.run(host="0.0.0.0", port=9000, access_log=False, on_shutdown=hooks)
    assert calls == [
        {
            "handler": app,
            "host": "0.0.0.0",
            "port": 9000,
            "limits": app.limits,
            "access_log": False,
            "on_shutdown": hooks,
        }
    ]


def test_before_send_hooks_see_every_response(app: App) -> None:
    seen: list[int] = []

    @app.before_send
    def stamp(request: Request, response: Response) -> None:
        seen.append(response.status)
        response.headers.append(("X-Stamp", request.method))

    ok, missing, crashed = (
        call(app, "GET", "/"),
        call(app, "GET", "/missing"),
        call(app, "GET", "/crash"),
    )
    assert seen == [200, 404, 500]
    assert [exchange.header("x-stamp") for exchange in (ok, missing, crashed)] == ["GET"] * 3
