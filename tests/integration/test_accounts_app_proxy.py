"""`barehttp app` behind a real nginx terminating TLS: Secure cookies, per-client throttling."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import trustme

from tests.integration.accounts_site import PASSWORD, TIMEOUT_S, csrf_token_in, sign_up
from tests.integration.conftest import ServerProcess, SpawnServer
from tests.nginx_proxy import run_nginx


def start_app(spawn_server: SpawnServer, db: Path) -> ServerProcess:
    return spawn_server(
        "-m", "barehttp.cli", "app", "--port", "{port}", "--db", str(db), "--no-access-log"
    )  # fmt: skip


def make_certificate(directory: Path) -> tuple[str, str, str]:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    chain, key, ca_file = directory / "chain.pem", directory / "key.pem", directory / "ca.pem"
    issued.private_key_pem.write_to_path(str(key))
    issued.cert_chain_pems[0].write_to_path(str(chain))
    ca.cert_pem.write_to_path(str(ca_file))
    return str(chain), str(key), str(ca_file)


def client_from(address: str, base_url: str, ca_file: str) -> httpx.Client:
    """An httpx client whose connections come from ``address`` (a 127/8 address)."""
    verify = ssl.create_default_context(cafile=ca_file)
    transport = httpx.HTTPTransport(local_address=address, verify=verify)
    return httpx.Client(base_url=base_url, transport=transport, timeout=TIMEOUT_S)


def failed_sign_in(client: httpx.Client, username: str) -> int:
    token = csrf_token_in(client.get("/signin").text)
    response = client.post(
        "/signin", data={"csrf_token": token, "username": username, "password": "wrong!pw1"}
    )
    return response.status_code


def test_secure_cookies_and_per_client_throttling_behind_tls_proxy(
    spawn_server: SpawnServer, tmp_path: Path
) -> None:
    server = start_app(spawn_server, tmp_path / "barehttp.db")
    chain, key, ca_file = make_certificate(tmp_path)
    with run_nginx(
        tmp_path / "nginx", f"127.0.0.1:{server.port}", certificate=(chain, key)
    ) as proxy:
        base_url = f"https://127.0.0.1:{proxy.port}"
        with client_from("127.0.0.5", base_url, ca_file) as client:
            page = client.get("/signup")
            assert page.headers["strict-transport-security"] == "max-age=31536000"
            csrf = page.headers.get_list("set-cookie")
            assert any(c.startswith("__Host-csrf=") and "; Secure" in c for c in csrf), csrf
            response = sign_up(client, "rita", password=PASSWORD)
            assert response.status_code == 303, response.text
            session = [
                c
                for c in response.headers.get_list("set-cookie")
                if c.startswith("__Host-session=")
            ]
            assert session and "; Secure" in session[0], session
        with client_from("127.0.0.5", base_url, ca_file) as client:  # signed out
            # Five wrong passwords for one account from this client's address lock
            # that address out of the account...
            statuses = [failed_sign_in(client, "rita") for _ in range(6)]
            assert statuses[-1] == 429, statuses
        # ...not every client of the proxy: the app sees each one's own address.
        with client_from("127.0.0.6", base_url, ca_file) as other:
            assert failed_sign_in(other, "rita") == 422
    plain = httpx.get(server.url + "/signup", timeout=TIMEOUT_S)  # straight, over HTTP
    assert "strict-transport-security" not in plain.headers  # RFC 6797 §7.2
    assert all("; Secure" not in c for c in plain.headers.get_list("set-cookie"))
