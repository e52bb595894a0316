"""Header section rules: RFC 9110 §5, RFC 9112 §3.2 and §5."""

from __future__ import annotations

import pytest

from barehttp.protocol.errors import HeaderFieldsTooLarge
from barehttp.protocol.events import RequestHead
from barehttp.protocol.headers import Headers
from barehttp.protocol.limits import Limits
from barehttp.protocol.parser import RequestParser
from tests.protocol.helpers import bytewise, parse_error, parse_one, request


def test_rejects_missing_host_in_http11() -> None:
    assert parse_error(request("GET / HTTP/1.1", host=False)).status == 400


def test_accepts_missing_host_in_http10() -> None:
    head = parse_one(request("GET / HTTP/1.0", host=False)).head
    assert head.http_version == "HTTP/1.0"
    assert "host" not in head.headers


def test_accepts_empty_host_value() -> None:
    # RFC 9112 §3.2: an empty Host is allowed when the target has no authority.
    head = parse_one(request("GET / HTTP/1.1", "Host:", host=False)).head
    assert head.headers.get_all("host") == [""]


VALID_HOSTS = [
    pytest.param("example.com", id="name"),
    pytest.param("example.com:8080", id="name-port"),
    pytest.param("127.0.0.1:80", id="ipv4-port"),
    pytest.param("[::1]", id="ipv6"),
    pytest.param("[2001:db8::7]:443", id="ipv6-port"),
    pytest.param("xn--bcher-kva.example", id="punycode"),
    pytest.param("ex%41mple", id="pct-encoded"),
    pytest.param("localhost:", id="empty-port"),  # RFC 3986 §3.2.3: port = *DIGIT
]


@pytest.mark.parametrize("host", VALID_HOSTS)
def test_accepts_valid_host(host: str) -> None:
    head = parse_one(request("GET / HTTP/1.1", f"Host: {host}", host=False)).head
    assert head.headers.get_all("host") == [host]


# RFC 9112 §3.2: a Host field with an invalid value gets 400.
INVALID_HOSTS = [
    pytest.param("a b", id="space"),
    pytest.param("example.com:80:80", id="two-ports"),
    pytest.param("example.com:http", id="named-port"),
    pytest.param("user@example.com", id="userinfo"),
    pytest.param("example.com/path", id="path"),
    pytest.param("example.com?q", id="query"),
    pytest.param("ex%4", id="short-pct"),
    pytest.param("[::1", id="open-bracket"),
    pytest.param('exa"mple', id="quote"),
    pytest.param("exämple", id="non-ascii"),
]


@pytest.mark.parametrize("host", INVALID_HOSTS)
def test_rejects_invalid_host(host: str) -> None:
    data = request("GET / HTTP/1.1", f"Host: {host}", host=False)
    assert parse_error(data).status == 400
    assert parse_error(data, bytewise(data)).status == 400
    assert parse_error(data).status == 400  # the memoized header section is checked too


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_rejects_duplicate_host(version: str) -> None:
    assert parse_error(request(f"GET / {version}", "Host: other.test")).status == 400


def test_rejects_duplicate_host_differing_in_case() -> None:
    assert parse_error(request("GET / HTTP/1.1", "HOST: example.com")).status == 400


MALFORMED_FIELD_LINES = [
    pytest.param(" X-Folded: yes", id="obs-fold-space"),
    pytest.param("\tX-Folded: yes", id="obs-fold-tab"),
    pytest.param("X-Name : value", id="space-before-colon"),
    pytest.param("X-Name\t: value", id="tab-before-colon"),
    pytest.param("X Name: value", id="space-in-name"),
    pytest.param(": value", id="empty-name"),
    pytest.param("X-No-Colon", id="no-colon"),
    pytest.param("X-Näme: value", id="non-ascii-name"),
    pytest.param("X-(Name): value", id="separator-in-name"),
    pytest.param("X-Value: a\x00b", id="nul-in-value"),
    pytest.param("X-Value: a\rb", id="cr-in-value"),
    pytest.param("X-Value: a\x01b", id="control-in-value"),
    pytest.param("X-Value: a\x1bb", id="escape-in-value"),
    pytest.param("X-Value: a\x7fb", id="del-in-value"),
    pytest.param("X-Value: a\r", id="cr-at-end-of-value"),
]


@pytest.mark.parametrize("line", MALFORMED_FIELD_LINES)
def test_rejects_malformed_field_line(line: str) -> None:
    data = request("GET / HTTP/1.1", line)
    assert parse_error(data).status == 400
    assert parse_error(data, bytewise(data)).status == 400


def test_rejects_obs_fold_continuing_previous_field() -> None:
    data = request("GET / HTTP/1.1", "X-Long: part one", "  part two")
    assert parse_error(data).status == 400


def test_rejects_whitespace_before_first_field() -> None:
    # RFC 9112 §2.2: whitespace between the start-line and the first field.
    data = b"GET / HTTP/1.1\r\n Host: example.com\r\n\r\n"
    assert parse_error(data).status == 400


# (field line, expected value)
FIELD_VALUES = [
    pytest.param("X-Value: plain", "plain", id="plain"),
    pytest.param("X-Value:plain", "plain", id="no-ows"),
    pytest.param("X-Value: \t plain \t ", "plain", id="ows-trimmed"),
    pytest.param("X-Value:   ", "", id="only-ows"),
    pytest.param("X-Value: a  b\tc", "a  b\tc", id="inner-whitespace-kept"),
    pytest.param("X-Value: caf\xe9", "caf\xe9", id="obs-text-latin-1"),
    pytest.param("X-Value: a:b:c", "a:b:c", id="colon-in-value"),
]


@pytest.mark.parametrize(("line", "value"), FIELD_VALUES)
def test_trims_ows_around_field_value(line: str, value: str) -> None:
    head = parse_one(request("GET / HTTP/1.1", line)).head
    assert head.headers.get_all("x-value") == [value]


def test_lowercases_field_names() -> None:
    head = parse_one(request("GET / HTTP/1.1", "X-MiXeD-Case: v", "ACCEPT: */*")).head
    assert head.headers.items() == [
        ("host", "example.com"),
        ("x-mixed-case", "v"),
        ("accept", "*/*"),
    ]
    assert head.headers.get("X-Mixed-CASE") == "v"
    assert "ACCEPT" in head.headers


def test_keeps_repeated_fields_in_order_and_joins_them() -> None:
    data = request("GET / HTTP/1.1", "Accept: a", "X-Other: o", "accept: b", "ACCEPT: c")
    headers = parse_one(data).head.headers
    assert headers.get_all("accept") == ["a", "b", "c"]
    assert headers.get("accept") == "a, b, c"  # RFC 9110 §5.3
    assert [name for name, _ in headers] == ["host", "accept", "x-other", "accept", "accept"]
    assert len(headers) == 5


def test_headers_get_returns_default_when_absent() -> None:
    headers = Headers([("a", "1")])
    assert headers.get("b") is None
    assert headers.get("b", "fallback") == "fallback"
    assert headers.get_all("b") == []
    assert 1 not in headers


def test_repeated_header_section_gives_independent_headers() -> None:
    """The header-section memo must not let one request's Headers leak into the next."""
    request = b"GET / HTTP/1.1\r\nHost: a\r\nX-Memo: 1\r\n\r\n"
    parser = RequestParser(Limits())
    heads = []
    for _ in range(3):  # a miss, then hits: each must get its own list
        head = parser.feed(request)[0]
        parser.start_next()
        assert isinstance(head, RequestHead)
        head.headers.append("x-added", "leak")
        heads.append(head)
    for head in heads:
        assert head.headers.items() == [("host", "a"), ("x-memo", "1"), ("x-added", "leak")]
    # And the memo still honours each parser's header-count limit.
    strict = RequestParser(Limits(max_header_count=1))
    with pytest.raises(HeaderFieldsTooLarge):
        strict.feed(request)
