"""The accounts app over HTTPS: `__Host-` cookies, Strict-Transport-Security, the whole flow."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from barehttp.server.tls import make_server_context
from tests.integration.accounts_site import (
    Site,
    new_client,
    running_site,
    session_cookie_in,
    sign_out,
    sign_up,
    spend,
)

HSTS = "max-age=31536000"


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[tuple[Site, ssl.SSLContext]]:
    ca = trustme.CA()
    cert_path = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with running_site(tmp_path / "app.db", ssl_context=make_server_context(str(cert_path))) as site:
        assert site.url.startswith("https://")
        yield site, client_context


def set_cookie_named(response: httpx.Response, name: str) -> str:
    return next(f for f in response.headers.get_list("set-cookie") if f.startswith(name + "="))


def test_cookies_are_host_prefixed_and_secure_over_https(
    tls_site: tuple[Site, ssl.SSLContext],
) -> None:
    site, client_context = tls_site
    with new_client(site, verify=client_context) as client:
        form = client.get("/signup")
        csrf = set_cookie_named(form, "__Host-csrf")
        assert set(csrf.split("; ")[1:]) == {"Path=/", "Secure", "HttpOnly", "SameSite=Lax"}

        created = sign_up(client, "sybil")
        assert created.status_code == 303
        session_token = session_cookie_in(created)
        field = set_cookie_named(created, "__Host-session")
        # RFC 6265bis §4.1.3.2: Secure, Path=/ and no Domain, or browsers drop it.
        assert set(field.split("; ")[1:]) == {
            "Max-Age=43200",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Lax",
        }
        assert len(session_token) == 64
        assert spend(client, 2).json()["used"] == 2  # the cookie goes back over TLS
        cleared = sign_out(client)
        assert any(
            f.startswith("__Host-session=;") and "Secure" in f and "Path=/" in f
            for f in cleared.headers.get_list("set-cookie")
        )
        assert client.get("/api/usage").status_code == 401


def test_unprefixed_cookie_is_ignored_over_https(tls_site: tuple[Site, ssl.SSLContext]) -> None:
    """A cookie planted without the prefix (by a sibling host, or over plain HTTP)."""
    site, client_context = tls_site
    with new_client(site, verify=client_context) as client:
        token = session_cookie_in(sign_up(client, "tess"))
    with new_client(site, verify=client_context, cookies={"session": token}) as planted:
        assert planted.get("/api/usage").status_code == 401
    with new_client(site, verify=client_context, cookies={"__Host-session": token}) as owner:
        assert owner.get("/api/usage").status_code == 200


@pytest.mark.parametrize("path", ["/", "/signin", "/api/usage", "/nowhere", "/static/style.css"])
def test_every_response_over_https_has_strict_transport_security(
    tls_site: tuple[Site, ssl.SSLContext], path: str
) -> None:
    site, client_context = tls_site
    with new_client(site, verify=client_context) as client:
        assert client.get(path).headers.get_list("strict-transport-security") == [HSTS]


def test_plain_http_has_no_strict_transport_security_and_plain_cookies(tmp_path: Path) -> None:
    with running_site(tmp_path / "app.db") as site, new_client(site) as client:
        form = client.get("/signup")
        assert "strict-transport-security" not in form.headers  # RFC 6797 §8.1: ignored
        assert set_cookie_named(form, "csrf")
