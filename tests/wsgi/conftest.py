"""Fixtures: ``barehttp wsgi`` subprocesses for the probe, Flask and Django apps."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.wsgi.apps.probe import MARKER_DIR_VARIABLE
from tests.wsgi.process import REPO_ROOT, ServerProcess, start_barehttp

StartProcess = Callable[..., ServerProcess]
# Large enough for the 20 MB uploads; bodies are streamed, never held whole.
MAX_BODY_BYTES = 64 * 1024 * 1024


class Markers:
    """The directory where the probe app records close() calls, one file per token."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def new_token(self) -> str:
        return uuid.uuid4().hex

    def is_closed(self, token: str) -> bool:
        return (self.directory / token).exists()

    def is_started(self, token: str) -> bool:
        """True once ``/slow?token=...`` is running in the application."""
        return (self.directory / f"{token}-started").exists()


def _process_starter(directory: Path, markers: Markers) -> tuple[StartProcess, list[ServerProcess]]:
    started: list[ServerProcess] = []

    def start(
        *arguments: str, workers: int = 0, cwd: Path = REPO_ROOT, name: str = "server"
    ) -> ServerProcess:
        log_path = directory / f"{name}-{len(started)}.log"
        process = start_barehttp(
            list(arguments),
            log_path,
            cwd=cwd,
            environment={MARKER_DIR_VARIABLE: str(markers.directory)},
            workers=workers,
        )
        started.append(process)
        return process

    return start, started


@pytest.fixture(scope="session")
def curl_path() -> str:
    """curl is required here: a missing curl fails the test, it is not skipped."""
    path = shutil.which("curl")
    assert path is not None, "curl is not installed; the WSGI tests need it"
    return path


@pytest.fixture(scope="session")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Markers:
    return Markers(tmp_path_factory.mktemp("markers"))


@pytest.fixture
def start_process(tmp_path: Path, markers: Markers) -> Iterator[StartProcess]:
    """``start_process(*cli_arguments, workers=0, cwd=REPO_ROOT)``, stopped after the test."""
    start, started = _process_starter(tmp_path, markers)
    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def start_module_process(
    tmp_path_factory: pytest.TempPathFactory, markers: Markers
) -> Iterator[StartProcess]:
    """Like ``start_process``, for servers shared by one module's tests."""
    start, started = _process_starter(tmp_path_factory.mktemp("servers"), markers)
    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def probe_server(start_module_process: StartProcess) -> ServerProcess:
    """The probe app in one process with four threads, no body cap (the wsgi default)."""
    return start_module_process("tests.wsgi.apps.probe:app", "--threads", "4")
