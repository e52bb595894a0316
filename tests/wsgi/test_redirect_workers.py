"""--redirect-http-port with --workers: every worker also answers plain HTTP with a 308."""

from __future__ import annotations

from pathlib import Path

import requests
import trustme

from tests.nginx_proxy import free_port
from tests.wsgi.conftest import StartProcess


def test_redirect_port_with_workers(start_process: StartProcess, tmp_path: Path) -> None:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    chain, key, ca_file = tmp_path / "chain.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(chain))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    http_port = free_port()
    server = start_process(
        "tests.wsgi.apps.probe:app",
        "--workers", "2", "--certfile", str(chain), "--keyfile", str(key),
        "--redirect-http-port", str(http_port),
        workers=2,
    )  # fmt: skip
    response = requests.get(
        f"http://127.0.0.1:{http_port}/pid?x=1", allow_redirects=False, timeout=10
    )
    assert response.status_code == 308
    # The HTTPS port is the one bound (port 0 asked a free one), not the 0 asked for.
    assert response.headers["Location"] == f"https://127.0.0.1:{server.port}/pid?x=1"
    secure = requests.get(response.headers["Location"], verify=str(ca_file), timeout=10)
    assert secure.json()["pid"] in server.workers()
    assert f"redirecting http://127.0.0.1:{http_port} to https" in server.log()
