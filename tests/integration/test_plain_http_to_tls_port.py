"""curl speaking plain HTTP to `barehttp hello --certfile`'s port gets a readable 400."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import trustme

from tests.integration.conftest import ServerProcess, SpawnServer, free_port

TIMEOUT_S = 10.0


def find_curl() -> str:
    curl = shutil.which("curl")
    assert curl is not None, "curl is needed (make system-deps installs it)"
    return curl


def start_tls_hello(spawn_server: SpawnServer, tmp_path: Path) -> tuple[ServerProcess, int]:
    """``barehttp hello`` on HTTPS (port 0), with a plain-HTTP redirect port."""
    cert = tmp_path / "server.pem"
    trustme.CA().issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert))
    redirect_port = free_port()
    server = spawn_server(
        "-m", "barehttp.cli", "hello", "--port", "{port}", "--no-access-log",
        "--certfile", str(cert), "--redirect-http-port", str(redirect_port),
    )  # fmt: skip
    return server, redirect_port


def test_curl_gets_a_400_naming_https_and_the_plain_port(
    spawn_server: SpawnServer, tmp_path: Path
) -> None:
    curl = find_curl()
    server, redirect_port = start_tls_hello(spawn_server, tmp_path)
    result = subprocess.run(
        [curl, "-sS", "-w", "%{http_code}", f"http://127.0.0.1:{server.port}/"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr  # not curl's 56: connection reset
    assert result.stdout == (
        f"This port speaks HTTPS, not plain HTTP: use https://127.0.0.1:{server.port}/\n"
        f"Plain HTTP is answered on port {redirect_port}, with a redirect here.\n400"
    )


def test_redirect_names_the_bound_https_port(spawn_server: SpawnServer, tmp_path: Path) -> None:
    """With ``--port 0`` the redirect must name the port the kernel chose, not 0."""
    curl = find_curl()
    server, redirect_port = start_tls_hello(spawn_server, tmp_path)
    assert server.port not in (0, redirect_port)
    result = subprocess.run(
        [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
         f"http://127.0.0.1:{redirect_port}/x?y=1"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"308 https://127.0.0.1:{server.port}/x?y=1"
