"""``barehttp asgi --certfile``: HTTPS and WSS, with the scope's scheme saying so."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import trustme
from websockets.sync.client import connect

from tests.asgi.conftest import StartAsgi

TIMEOUT_S = 15.0


def test_https_and_wss(start: StartAsgi, tmp_path: Path) -> None:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    issued.private_key_pem.write_to_path(str(key))
    issued.cert_chain_pems[0].write_to_path(str(chain))
    server = start("tests.asgi.apps.raw:app", "--certfile", str(chain), "--keyfile", str(key))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    url = f"https://127.0.0.1:{server.port}/tls"
    info = httpx.get(url, verify=client_context, timeout=TIMEOUT_S).json()
    assert info["scheme"] == "https"
    websocket_url = f"wss://127.0.0.1:{server.port}/echo"
    with connect(websocket_url, ssl=client_context, open_timeout=TIMEOUT_S) as websocket:
        websocket.send("over tls")
        assert websocket.recv(TIMEOUT_S) == "over tls"
