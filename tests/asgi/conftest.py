"""Fixtures: ``barehttp asgi`` subprocesses on 127.0.0.1 (port 0, read from the log)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
