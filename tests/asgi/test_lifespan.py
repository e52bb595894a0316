"""ASGI lifespan under ``barehttp asgi``: startup before serving, shutdown on SIGTERM."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.asgi.conftest import StartAsgi
from tests.wsgi.process import BAREHTTP, REPO_ROOT

TIMEOUT_S = 15.0


def test_startup_state_and_shutdown(start: StartAsgi, markers: Path) -> None:
    server = start("tests.asgi.apps.star:app")
    assert (markers / "star-startup").exists()
    response = httpx.get(server.url("/"), timeout=TIMEOUT_S)
    assert response.json() == {"hello": "world", "greeting": "set at startup"}
    assert not (markers / "star-shutdown").exists()
    assert server.stop() == 0
    assert (markers / "star-shutdown").exists()


def test_failed_startup_stops_the_server_with_the_message() -> None:
    command = [str(BAREHTTP), "asgi", "tests.asgi.apps.failing:app", "--port", "0"]
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert result.returncode != 0
    assert "database unreachable" in result.stderr
    assert "listening on" not in result.stderr


def test_lifespan_on_requires_an_app_that_answers(start: StartAsgi) -> None:
    command = [str(BAREHTTP), "asgi", "tests.asgi.apps.raw:app", "--port", "0", "--lifespan", "on"]
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert result.returncode == 1
    assert "returned without answering" in result.stderr
    server = start("tests.asgi.apps.raw:app")  # auto: served without lifespan
    assert httpx.get(server.url("/"), timeout=TIMEOUT_S).status_code == 200
