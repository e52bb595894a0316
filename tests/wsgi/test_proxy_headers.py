"""Behind a real nginx: REMOTE_ADDR, wsgi.url_scheme and HTTP_HOST are the client's.

curl connects from 127.0.0.5 (any 127/8 address is the loopback on Linux), so
the client's address differs from nginx's (127.0.0.1, trusted by default).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.nginx_proxy import Nginx, run_nginx
from tests.wsgi.conftest import StartProcess
from tests.wsgi.process import ServerProcess

PROBE = "tests.wsgi.apps.probe:app"
CLIENT_ADDRESS = "127.0.0.5"


def curl_environ(curl_path: str, url: str, *options: str) -> dict[str, object]:
    result = subprocess.run(
        [curl_path, "-sS", "--max-time", "20", "--interface", CLIENT_ADDRESS, *options, url],
        capture_output=True,
        check=True,
        timeout=30,
    )
    environ: dict[str, object] = json.loads(result.stdout)
    return environ


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, str]:
    """(chain, key, CA) files for 127.0.0.1."""
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    chain, key, ca_file = directory / "chain.pem", directory / "key.pem", directory / "ca.pem"
    issued.private_key_pem.write_to_path(str(key))
    issued.cert_chain_pems[0].write_to_path(str(chain))
    ca.cert_pem.write_to_path(str(ca_file))
    return str(chain), str(key), str(ca_file)


@pytest.fixture
def probe(start_process: StartProcess) -> ServerProcess:
    return start_process(PROBE)


@pytest.fixture
def nginx(probe: ServerProcess, tmp_path: Path) -> Iterator[Nginx]:
    with run_nginx(tmp_path / "nginx", f"127.0.0.1:{probe.port}") as proxy:
        yield proxy


def test_client_address_and_host_through_nginx(nginx: Nginx, curl_path: str) -> None:
    environ = curl_environ(curl_path, f"http://127.0.0.1:{nginx.port}/environ")
    assert environ["REMOTE_ADDR"] == CLIENT_ADDRESS
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["HTTP_HOST"] == f"127.0.0.1:{nginx.port}"


def test_https_at_nginx_is_the_scheme_the_app_sees(
    probe: ServerProcess,
    tmp_path: Path,
    curl_path: str,
    certificate: tuple[str, str, str],
) -> None:
    chain, key, ca_file = certificate
    upstream = f"127.0.0.1:{probe.port}"
    with run_nginx(tmp_path / "nginx", upstream, certificate=(chain, key)) as proxy:
        url = f"https://127.0.0.1:{proxy.port}/environ"
        environ = curl_environ(curl_path, url, "--cacert", ca_file)
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["REMOTE_ADDR"] == CLIENT_ADDRESS


def test_headers_from_an_untrusted_peer_are_ignored(probe: ServerProcess, curl_path: str) -> None:
    # Straight to barehttp from 127.0.0.5, which is not in the default 127.0.0.1,::1.
    environ = curl_environ(
        curl_path,
        probe.url("/environ"),
        "-H",
        "X-Forwarded-For: 203.0.113.9",
        "-H",
        "X-Forwarded-Proto: https",
    )
    assert environ["REMOTE_ADDR"] == CLIENT_ADDRESS
    assert environ["wsgi.url_scheme"] == "http"


def test_an_empty_allow_list_trusts_not_even_nginx(
    start_process: StartProcess, tmp_path: Path, curl_path: str
) -> None:
    server = start_process(PROBE, "--forwarded-allow-ips", "")
    with run_nginx(tmp_path / "nginx", f"127.0.0.1:{server.port}") as proxy:
        environ = curl_environ(curl_path, f"http://127.0.0.1:{proxy.port}/environ")
    assert environ["REMOTE_ADDR"] == "127.0.0.1"  # nginx itself


def test_a_trusted_range_believes_a_direct_peer(
    start_process: StartProcess, curl_path: str
) -> None:
    server = start_process(PROBE, "--forwarded-allow-ips", "127.0.0.0/24")
    environ = curl_environ(
        curl_path,
        server.url("/environ"),
        "-H",
        "X-Forwarded-For: 203.0.113.9",
        "-H",
        "X-Forwarded-Proto: https",
    )
    assert environ["REMOTE_ADDR"] == "203.0.113.9"
    assert environ["wsgi.url_scheme"] == "https"


def test_a_bad_allow_list_is_refused(curl_path: str, tmp_path: Path) -> None:
    from tests.wsgi.process import BAREHTTP

    result = subprocess.run(
        [str(BAREHTTP), "wsgi", PROBE, "--forwarded-allow-ips", "10.0.0.0/33"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--forwarded-allow-ips" in result.stderr and "10.0.0.0/33" in result.stderr
