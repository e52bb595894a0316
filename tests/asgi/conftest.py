"""Fixtures: ``barehttp asgi`` subprocesses on 127.0.0.1 (port 0, read from the log)."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from tests.wsgi.process import ServerProcess, start_barehttp

StartAsgi = Callable[..., ServerProcess]


def start_asgi(arguments: list[str], log_path: Path, markers: Path) -> ServerProcess:
    """Start ``barehttp asgi ARGUMENTS --host 127.0.0.1 --port 0``; wait until it listens."""
    return start_barehttp(
        arguments, log_path, environment={"ASGI_MARKERS": str(markers)}, host_command="asgi"
    )


@pytest.fixture
def markers(tmp_path: Path) -> Path:
    directory = tmp_path / "markers"
    directory.mkdir()
    return directory


@pytest.fixture
def start(tmp_path: Path, markers: Path) -> Iterator[StartAsgi]:
    """``start(*cli_arguments)``: a server stopped (by PID) after the test."""
    started: list[ServerProcess] = []

    def run(*arguments: str) -> ServerProcess:
        server = start_asgi(list(arguments), tmp_path / f"server-{len(started)}.log", markers)
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, ssl.SSLContext]:
    """A certificate for 127.0.0.1 (chain and key files) and a client context trusting it."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(chain))
    issued.private_key_pem.write_to_path(str(key))
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    return chain, key, client_context
