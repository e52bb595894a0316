"""ProxyHeaders: for trusted peers, the forwarded client, scheme and host replace the peer's."""

from __future__ import annotations

from barehttp.protocol.forwarded import TrustedProxies
from barehttp.server.handler import Exchange
from barehttp.server.proxy_headers import ProxyHeaders
from barehttp.web.request import Request
from tests.web.fakes import FakeExchange

FORWARDED = [
    ("X-Forwarded-For", "203.0.113.9"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "example.com"),
    ("Host", "backend:8000"),
]


def seen_by_handler(exchange: FakeExchange, trusted: str) -> Request:
    seen: list[Request] = []

    def handler(exchange: Exchange) -> None:
        seen.append(Request(exchange))

    ProxyHeaders(handler, TrustedProxies.parse(trusted))(exchange)
    return seen[0]


def test_trusted_peer_sets_client_scheme_and_host() -> None:
    request = seen_by_handler(FakeExchange(headers=FORWARDED), "192.0.2.0/24")  # fake's peer
    assert (request.client, request.client_address) == ("203.0.113.9", ("203.0.113.9", 0))
    assert (request.scheme, request.is_secure, request.is_tls) == ("https", True, False)
    assert request.host == "example.com"
    assert request.headers.get_all("host") == ["example.com"]


def test_untrusted_peer_changes_nothing() -> None:
    request = seen_by_handler(FakeExchange(headers=FORWARDED), "127.0.0.1,::1")
    assert request.client == "192.0.2.7"
    assert (request.scheme, request.is_secure) == ("http", False)
    assert request.host == "backend:8000"


def test_tls_connection_is_https_without_any_proxy() -> None:
    request = seen_by_handler(FakeExchange(is_tls=True), "")
    assert (request.scheme, request.is_secure) == ("https", True)
