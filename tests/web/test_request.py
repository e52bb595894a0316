import json

import pytest

from barehttp.protocol.errors import BadRequest, ContentTooLarge, HTTPError, RequestTimeout
from barehttp.web.errors import UnsupportedMediaType
from barehttp.web.request import Request
from tests.web.fakes import FakeExchange, make_request

FORM = ("Content-Type", "application/x-www-form-urlencoded")
JSON = ("Content-Type", "application/json")


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/plain", "/plain"),
        ("/a%20b", "/a b"),
        ("/caf%C3%A9", "/caf\u00e9"),
        ("/a%252F", "/a%2F"),
        ("/a%2Fb", "/a/b"),
        ("/100%", "/100%"),
    ],
    ids=["plain", "space", "utf8", "decoded-only-once", "encoded-slash", "stray-percent-kept"],
)
def test_path_is_percent_decoded_once(target: str, path: str) -> None:
    request = make_request(target=target)
    assert request.path == path
    assert request.raw_path == target


@pytest.mark.parametrize(
    "target", ["/%FF", "/%C3%28", "/a%00b"], ids=["invalid-utf8", "bad-continuation", "nul"]
)
def test_path_rejects_undecodable(target: str) -> None:
    with pytest.raises(BadRequest):
        _ = make_request(target=target).path


@pytest.mark.parametrize(
    ("target", "query"),
    [
        ("/", {}),
        ("/?a=1&a=2&b=", {"a": ["1", "2"], "b": [""]}),
        ("/?q=caf%C3%A9+au+lait", {"q": ["caf\u00e9 au lait"]}),
        ("/?a=1;b=2", {"a": ["1;b=2"]}),
    ],
    ids=["none", "repeated-and-blank", "decoded", "semicolon-not-separator"],
)
def test_query(target: str, query: dict[str, list[str]]) -> None:
    request = make_request(target=target)
    assert request.query == query
    assert request.query_string == target.partition("?")[2]


@pytest.mark.parametrize(
    ("headers", "cookies"),
    [
        ([], {}),
        ([("Cookie", "sid=abc; theme=dark")], {"sid": "abc", "theme": "dark"}),
        ([("Cookie", "a=1"), ("Cookie", "b=2")], {"a": "1", "b": "2"}),
        ([("Cookie", "garbage;;=;x")], {}),
    ],
    ids=["absent", "two-pairs", "repeated-field", "junk"],
)
def test_cookies(headers: list[tuple[str, str]], cookies: dict[str, str]) -> None:
    assert make_request(headers=headers).cookies == cookies


@pytest.mark.parametrize(
    ("is_tls", "headers", "scheme", "host"),
    [
        (False, [("Host", "example.com")], "http", "example.com"),
        (True, [("Host", "example.com:8443")], "https", "example.com:8443"),
        (False, [], "http", "127.0.0.1:8000"),
    ],
    ids=["http", "https", "no-host-falls-back-to-server-address"],
)
def test_scheme_and_host(
    is_tls: bool, headers: list[tuple[str, str]], scheme: str, host: str
) -> None:
    request = Request(FakeExchange(headers=headers, is_tls=is_tls))
    assert (request.scheme, request.host, request.is_tls) == (scheme, host, is_tls)


def test_exposes_exchange_fields() -> None:
    exchange = FakeExchange("PUT", "/x", [("X-Thing", "1")])
    request = Request(exchange)
    assert request.method == "PUT"
    assert request.headers.get("x-thing") == "1"
    assert request.client_address == ("192.0.2.7", 51234)
    assert request.exchange is exchange
    assert request.params == {}


@pytest.mark.parametrize(
    ("body", "chunked", "read_limit"),
    [
        (b"", False, None),
        (b"hello", False, None),
        (b"x" * 200_000, False, None),
        (b"y" * 1_000, True, 7),
    ],
    ids=["empty", "small", "many-reads", "chunked-in-pieces"],
)
def test_body_is_read_whole(body: bytes, chunked: bool, read_limit: int | None) -> None:
    exchange = FakeExchange("POST", "/", body=body, chunked=chunked, read_limit=read_limit)
    assert Request(exchange).body == body


def test_body_is_read_lazily_and_cached() -> None:
    exchange = FakeExchange("POST", "/", body=b"data")
    request = Request(exchange)
    assert exchange.body_bytes_read == 0
    assert request.body is request.body
    assert exchange.body_bytes_read == 4


@pytest.mark.parametrize(
    ("size", "chunked", "is_accepted", "bytes_read_at_most"),
    [
        (100, False, True, 100),
        (101, False, False, 0),
        (101, True, False, 101),
        (100_000, True, False, 101),
    ],
    ids=[
        "declared-at-limit",
        "declared-over-limit-refused-unread",
        "chunked-over-limit",
        "chunked-stops-reading-past-limit",
    ],
)
def test_body_limit(size: int, chunked: bool, is_accepted: bool, bytes_read_at_most: int) -> None:
    exchange = FakeExchange("POST", "/", body=b"x" * size, chunked=chunked)
    request = Request(exchange, max_body_bytes=100)
    if is_accepted:
        assert len(request.body) == size
        assert not exchange.connection_closed
    else:
        with pytest.raises(ContentTooLarge) as raised:
            _ = request.body
        assert raised.value.status == 413
        assert exchange.connection_closed  # the unread rest is still on the socket
    assert exchange.body_bytes_read <= bytes_read_at_most


@pytest.mark.parametrize(
    "error",
    [BadRequest("bad chunk size"), RequestTimeout()],
    ids=["bad-framing", "timeout"],
)
def test_body_read_failure_closes_connection(error: HTTPError) -> None:
    exchange = FakeExchange("POST", "/", body=b"abc", chunked=True, read_error=error)
    with pytest.raises(type(error)):
        _ = Request(exchange).body
    assert exchange.connection_closed


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ([FORM], b"name=ann&tag=a&tag=b", [("name", "ann"), ("tag", "a"), ("tag", "b")]),
        (
            [("Content-Type", "Application/X-WWW-Form-Urlencoded; charset=UTF-8")],
            b"a=1",
            [("a", "1")],
        ),
        ([], b"", []),
        ([JSON], b"", []),
    ],
    ids=["fields", "type-case-and-parameters-ignored", "no-body", "empty-body-any-type"],
)
def test_form(headers: list[tuple[str, str]], body: bytes, expected: list[tuple[str, str]]) -> None:
    form = make_request("POST", "/", headers, body).form()
    assert form.multi_items() == expected


@pytest.mark.parametrize(
    ("headers", "body", "error"),
    [
        ([JSON], b'{"a": 1}', UnsupportedMediaType),
        ([], b"a=1", UnsupportedMediaType),
        ([("Content-Type", "multipart/form-data; boundary=x")], b"--x--", UnsupportedMediaType),
        ([FORM], b"a=%zz", BadRequest),
        ([FORM], b"a&" * 4, BadRequest),
    ],
    ids=["json-type", "no-type", "multipart", "malformed", "too-many-fields"],
)
def test_form_errors(headers: list[tuple[str, str]], body: bytes, error: type[HTTPError]) -> None:
    request = make_request("POST", "/", headers, body, max_form_fields=3)
    with pytest.raises(error):
        request.form()


def test_form_is_cached() -> None:
    request = make_request("POST", "/", [FORM], b"a=1")
    assert request.form() is request.form()


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ([JSON], b'{"a": [1, 2.5, null, true]}', {"a": [1, 2.5, None, True]}),
        ([JSON], b"null", None),
        ([("Content-Type", "application/json; charset=utf-8")], b'"x"', "x"),
        ([("Content-Type", "application/merge-patch+json")], b"{}", {}),
        ([JSON], '{"k": "caf\u00e9"}'.encode(), {"k": "caf\u00e9"}),
    ],
    ids=["object", "null", "with-charset", "plus-json-suffix", "utf8"],
)
def test_json(headers: list[tuple[str, str]], body: bytes, expected: object) -> None:
    assert make_request("POST", "/", headers, body).json() == expected


@pytest.mark.parametrize(
    ("headers", "body", "error"),
    [
        ([JSON], b"{", BadRequest),
        ([JSON], b"", BadRequest),
        ([JSON], b'{"a": NaN}', BadRequest),
        ([JSON], b"[Infinity]", BadRequest),
        ([JSON], b'"\xff"', BadRequest),
        ([JSON], b"[" * 100_000 + b"]" * 100_000, BadRequest),
        ([], b"{}", UnsupportedMediaType),
        ([("Content-Type", "text/plain")], b"{}", UnsupportedMediaType),
    ],
    ids=[
        "truncated",
        "empty",
        "nan",
        "infinity",
        "invalid-utf8",
        "deep-nesting",
        "no-content-type",
        "text-plain-csrf-shape",
    ],
)
def test_json_errors(headers: list[tuple[str, str]], body: bytes, error: type[HTTPError]) -> None:
    request = make_request("POST", "/", headers, body, max_body_bytes=1_000_000)
    with pytest.raises(error):
        request.json()


def test_json_is_parsed_once_even_when_null(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_loads = json.loads

    def counting_loads(text: str, **options: object) -> object:
        calls.append(text)
        return real_loads(text)

    monkeypatch.setattr(json, "loads", counting_loads)
    request = make_request("POST", "/", [JSON], b"null")
    assert request.json() is None
    assert request.json() is None
    assert calls == ["null"]
