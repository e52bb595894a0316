"""Fixtures: ``barehttp asgi`` subprocesses on 127.0.0.1 (port 0, read from the log)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.wsgi.process import (
    BAREHTTP,
    LISTENING,
    REPO_ROOT,
    START_TIMEOUT_S,
    ServerProcess,
    wait_until,
)

StartAsgi = Callable[..., ServerProcess]


def start_asgi(arguments: list[str], log_path: Path, markers: Path) -> ServerProcess:
    """Start ``barehttp asgi ARGUMENTS --host 127.0.0.1 --port 0``; wait until it listens."""
    env = {**os.environ, "ASGI_MARKERS": str(markers)}
    command = [str(BAREHTTP), "asgi", *arguments, "--host", "127.0.0.1", "--port", "0"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = ServerProcess(process, log_path)
    try:

        def is_listening() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"barehttp exited {process.returncode}: {server.log()}")
            match = LISTENING.search(server.log())
            if match:
                server.port = int(match.group(1))
            return match is not None

        wait_until(is_listening, START_TIMEOUT_S, f"barehttp to listen: {command}")
    except BaseException:
        server.stop()
        raise
    return server


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
