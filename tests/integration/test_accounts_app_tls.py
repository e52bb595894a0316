"""The accounts app over HTTPS: cookies get `Secure`, and the whole flow still works."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme

from barehttp.server.tls import make_server_context
from tests.integration.accounts_site import (
    new_client,
    running_site,
    session_cookie_in,
    sign_out,
    sign_up,
    spend,
)


def test_cookies_are_secure_over_https(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert_path = tmp_path / "server.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)

    with running_site(tmp_path / "app.db", ssl_context=make_server_context(str(cert_path))) as site:
        assert site.url.startswith("https://")
        with new_client(site, verify=client_context) as client:
            form = client.get("/signup")
            csrf = next(f for f in form.headers.get_list("set-cookie") if f.startswith("csrf="))
            assert "; Secure" in csrf and "HttpOnly" in csrf

            created = sign_up(client, "sybil")
            assert created.status_code == 303
            session_token = session_cookie_in(created)
            field = next(
                f for f in created.headers.get_list("set-cookie") if f.startswith("session=")
            )
            assert set(field.split("; ")[1:]) == {
                "Max-Age=43200",
                "Path=/",
                "Secure",
                "HttpOnly",
                "SameSite=Lax",
            }
            assert len(session_token) == 64
            assert spend(client, 2).json()["used"] == 2  # the Secure cookie goes back over TLS
            cleared = sign_out(client)
            assert any(
                f.startswith("session=;") and "Secure" in f
                for f in cleared.headers.get_list("set-cookie")
            )
            assert client.get("/api/usage").status_code == 401
