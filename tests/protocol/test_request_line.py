"""Request line rules: RFC 9112 §2.2, §2.3, §3."""

from __future__ import annotations

import pytest

from tests.protocol.helpers import bytewise, outcome, parse_error, parse_one, request

# (request line, method, path, query, version parsed)
VALID_REQUEST_LINES = [
    pytest.param("GET / HTTP/1.1", "GET", "/", "", "HTTP/1.1", id="root"),
    pytest.param("GET /a/b?x=1&y=%20 HTTP/1.1", "GET", "/a/b", "x=1&y=%20", "HTTP/1.1", id="query"),
    pytest.param("GET /a%2Fb HTTP/1.1", "GET", "/a%2Fb", "", "HTTP/1.1", id="still-encoded"),
    pytest.param("GET /? HTTP/1.1", "GET", "/", "", "HTTP/1.1", id="empty-query"),
    pytest.param("POST /x HTTP/1.0", "POST", "/x", "", "HTTP/1.0", id="http-1.0"),
    pytest.param("GET / HTTP/1.2", "GET", "/", "", "HTTP/1.1", id="http-1.2-as-1.1"),
    pytest.param("GET / HTTP/1.9", "GET", "/", "", "HTTP/1.1", id="http-1.9-as-1.1"),
    pytest.param("M-SEARCH / HTTP/1.1", "M-SEARCH", "/", "", "HTTP/1.1", id="extension-method"),
    pytest.param("get / HTTP/1.1", "get", "/", "", "HTTP/1.1", id="method-case-kept"),
]


@pytest.mark.parametrize(("line", "method", "path", "query", "version"), VALID_REQUEST_LINES)
def test_accepts_origin_form_request_line(
    line: str, method: str, path: str, query: str, version: str
) -> None:
    message = parse_one(request(line))
    head = message.head
    assert (head.method, head.path, head.query, head.http_version) == (
        method,
        path,
        query,
        version,
    )
    assert head.target == line.split(" ")[1]
    assert message.body == b""


# RFC 9112 §3.2.2: with absolute-form the server ignores Host and uses the authority.
ABSOLUTE_FORMS = [
    pytest.param("http://example.org/p?q=1", "example.org", "/p", "q=1", id="path-query"),
    pytest.param("http://example.org:8080/p", "example.org:8080", "/p", "", id="port"),
    pytest.param("http://example.org", "example.org", "/", "", id="no-path"),
    pytest.param("http://example.org?q=1", "example.org", "/", "q=1", id="query-no-path"),
    pytest.param("https://example.org/s", "example.org", "/s", "", id="https"),
    pytest.param("HTTP://Example.org/", "Example.org", "/", "", id="scheme-case"),
    pytest.param("http://[::1]:8080/p", "[::1]:8080", "/p", "", id="ipv6-literal"),
    pytest.param("http://127.0.0.1/p", "127.0.0.1", "/p", "", id="ipv4"),
    pytest.param("http://ex%41mple.org/", "ex%41mple.org", "/", "", id="pct-encoded-host"),
]


@pytest.mark.parametrize(("target", "authority", "path", "query"), ABSOLUTE_FORMS)
def test_absolute_form_replaces_host_with_authority(
    target: str, authority: str, path: str, query: str
) -> None:
    head = parse_one(request(f"GET {target} HTTP/1.1", "Host: other.test", host=False)).head
    assert (head.target, head.path, head.query) == (target, path, query)
    assert head.headers.get_all("host") == [authority]


def test_absolute_form_supplies_host_when_http10_sent_none() -> None:
    head = parse_one(request("GET http://example.org/p HTTP/1.0", host=False)).head
    assert head.headers.get_all("host") == ["example.org"]


def test_accepts_asterisk_form_with_options() -> None:
    head = parse_one(request("OPTIONS * HTTP/1.1")).head
    assert (head.method, head.target, head.path, head.query) == ("OPTIONS", "*", "*", "")


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "options"])
def test_rejects_asterisk_form_without_options(method: str) -> None:
    assert parse_error(request(f"{method} * HTTP/1.1")).status == 400


MALFORMED_REQUEST_LINES = [
    pytest.param("G(T / HTTP/1.1", id="bad-method-token"),
    pytest.param("GÉT / HTTP/1.1", id="non-ascii-method"),
    pytest.param("GET  / HTTP/1.1", id="double-space-after-method"),
    pytest.param("GET /  HTTP/1.1", id="double-space-before-version"),
    pytest.param(" GET / HTTP/1.1", id="leading-space"),
    pytest.param("GET / HTTP/1.1 ", id="trailing-space"),
    pytest.param("GET\t/\tHTTP/1.1", id="tab-separators"),
    pytest.param("GET /", id="missing-version"),
    pytest.param("GET HTTP/1.1", id="missing-target"),
    pytest.param("GET", id="method-only"),
    pytest.param("GET / http/1.1", id="lower-case-http-name"),
    pytest.param("GET / HTTP/1", id="version-without-minor"),
    pytest.param("GET / HTTP/1.1.1", id="version-three-parts"),
    pytest.param("GET / HTTP/1.10", id="two-digit-minor"),
    pytest.param("GET / HTTP/x.y", id="version-letters"),
    pytest.param("GET / FOO/1.1", id="not-http"),
    pytest.param("GET /a b HTTP/1.1", id="space-in-target"),
    pytest.param("GET /a\x01b HTTP/1.1", id="control-in-target"),
    pytest.param("GET /a\x7fb HTTP/1.1", id="del-in-target"),
    pytest.param("GET index.html HTTP/1.1", id="relative-target"),
    pytest.param("GET ftp://example.org/ HTTP/1.1", id="non-http-scheme"),
    pytest.param("GET example.org:80 HTTP/1.1", id="authority-form-with-get"),
    pytest.param("GET http:///p HTTP/1.1", id="http-uri-empty-host"),  # RFC 9110 §4.2.1
    pytest.param("GET http://:80/p HTTP/1.1", id="http-uri-port-without-host"),
    pytest.param("GET http://user@example.org/ HTTP/1.1", id="userinfo"),  # RFC 9110 §4.2.4
    pytest.param("GET http://a b/ HTTP/1.1", id="space-in-authority"),
    pytest.param("GET http://example.org:8o/ HTTP/1.1", id="letter-in-port"),
    pytest.param("GET /a#frag HTTP/1.1", id="fragment"),  # RFC 9112 §3.2
    pytest.param("GET /a?x=1#frag HTTP/1.1", id="fragment-after-query"),
    pytest.param("GET http://example.org/#f HTTP/1.1", id="fragment-in-absolute-form"),
]


@pytest.mark.parametrize("line", MALFORMED_REQUEST_LINES)
def test_rejects_malformed_request_line(line: str) -> None:
    data = request(line)
    assert parse_error(data).status == 400
    assert parse_error(data, bytewise(data)).status == 400


# RFC 9110 §2.5, RFC 9112 §2.3: a well-formed version other than 1.x gets 505.
UNSUPPORTED_VERSIONS = [
    pytest.param("GET / HTTP/2.0", id="http-2.0"),
    pytest.param("GET / HTTP/3.0", id="http-3.0"),
    pytest.param("GET / HTTP/0.9", id="http-0.9"),
    pytest.param("GET / HTTP/10.0", id="http-10.0"),
    pytest.param("PRI * HTTP/2.0", id="h2-preface"),
    pytest.param("G@T / HTTP/2.0", id="bad-method-still-505"),
]


@pytest.mark.parametrize("line", UNSUPPORTED_VERSIONS)
def test_rejects_unsupported_major_version_with_505(line: str) -> None:
    assert parse_error(request(line)).status == 505


LEADING_EMPTY_LINES = [
    pytest.param(b"\r\n", id="one"),
    pytest.param(b"\r\n\r\n\r\n", id="three"),
]


@pytest.mark.parametrize("prefix", LEADING_EMPTY_LINES)
def test_ignores_empty_lines_before_request_line(prefix: bytes) -> None:
    data = prefix + request("GET /x HTTP/1.1")
    for splits in ((), bytewise(data)):
        assert parse_one(data, splits).head.path == "/x"


# RFC 9112 §2.2 allows accepting a bare LF; we refuse it (no disagreement with a proxy).
BARE_LF_HEADS = [
    pytest.param(b"GET / HTTP/1.1\nHost: a\r\n\r\n", id="after-request-line"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", id="between-fields"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\n\n", id="end-of-head"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n\n", id="empty-line-lf"),
    pytest.param(b"\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", id="leading-lf"),
    pytest.param(b"GET / HTTP/1.0\n\n", id="http10-all-lf"),
]


@pytest.mark.parametrize("data", BARE_LF_HEADS)
def test_rejects_bare_lf_in_head(data: bytes) -> None:
    assert parse_error(data).status == 400
    assert parse_error(data, bytewise(data)).status == 400


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"GET / HTTP/1.1\nHost: a\n", id="request-line"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\n\n", id="double-lf"),
    ],
)
def test_rejects_bare_lf_before_head_is_complete(data: bytes) -> None:
    """A client cannot keep a head open with LF-only lines that never end it."""
    assert parse_error(data).status == 400


# RFC 9112 §3.2 / RFC 3986 §2: a request-target is visible ASCII; other bytes must be
# percent-encoded. A raw UTF-8 or latin-1 byte is refused, not guessed at.
NON_ASCII_TARGETS = [
    pytest.param(b"GET /caf\xe9 HTTP/1.1", id="latin-1-byte"),
    pytest.param(b"GET /caf\xc3\xa9 HTTP/1.1", id="utf-8-bytes"),
    pytest.param(b"GET /a?q=\xff HTTP/1.1", id="in-query"),
    pytest.param(b"GET http://ex\xe4mple.org/ HTTP/1.1", id="in-authority"),
    pytest.param(b"GET /\x80 HTTP/1.1", id="0x80"),
]


@pytest.mark.parametrize("line", NON_ASCII_TARGETS)
def test_rejects_non_ascii_byte_in_request_target(line: bytes) -> None:
    data = line + b"\r\nHost: a\r\n\r\n"
    assert parse_error(data).status == 400
    assert parse_error(data, bytewise(data)).status == 400


# RFC 9110 §9.3.6: CONNECT has no content and a 2xx to it opens a tunnel (RFC 9112 §6.3
# rule 2). Not a proxy: 501 (RFC 9110 §9.1) in every form, before any body is framed,
# so that nothing after the head is read as a body or as the next request.
CONNECT_REQUESTS = [
    pytest.param(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", id="authority-form"),
    pytest.param(
        b"CONNECT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n",
        id="origin-form-with-body-then-pipelined",
    ),
    pytest.param(
        b"CONNECT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        id="chunked",
    ),
    pytest.param(b"CONNECT http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", id="absolute-form"),
    pytest.param(b"CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n", id="asterisk-form"),
    pytest.param(b"CONNECT a:443 HTTP/1.0\r\n\r\n", id="http-1.0"),
    pytest.param(b"\r\nCONNECT a:80 HTTP/1.1\r\nHost: a\r\n\r\n", id="after-empty-line"),
]


@pytest.mark.parametrize("data", CONNECT_REQUESTS)
def test_refuses_connect_in_every_form_with_501(data: bytes) -> None:
    assert outcome(data) == ([], 501)
    assert outcome(data, bytewise(data)) == ([], 501)
