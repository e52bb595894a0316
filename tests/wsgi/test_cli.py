"""``barehttp wsgi`` loading: readable errors for bad specs, --chdir, factories."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests

from tests.wsgi.conftest import StartProcess
from tests.wsgi.process import BAREHTTP, REPO_ROOT

EXIT_TIMEOUT_S = 30.0  # a CLI that exits by itself; a loaded machine may take seconds


def run_barehttp(*arguments: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    """Run a command expected to exit by itself (the port is never reached)."""
    return subprocess.run(
        [str(BAREHTTP), "wsgi", *arguments, "--host", "127.0.0.1", "--port", "0"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT_S,
        check=False,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuchmodule:app", "cannot import 'nosuchmodule'"),
        ("tests.wsgi.apps.probe:nosuchapp", "'nosuchapp' not found"),
        ("tests.wsgi.apps.probe:SECRET", "is not a callable WSGI application"),
        ("not a spec!", "expected MODULE:APP or MODULE:factory()"),
    ],
    ids=["no-module", "no-attribute", "not-callable", "bad-syntax"],
)
def test_bad_spec_exits_non_zero_with_a_readable_error(
    spec: str, message: str, workers: str
) -> None:
    result = run_barehttp(spec, "--workers", workers)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert "listening" not in result.stderr  # it failed before binding


def test_module_raising_on_import_exits_non_zero(tmp_path: Path) -> None:
    (tmp_path / "crashing_app.py").write_text("raise RuntimeError('configuration missing')\n")
    for workers in ("1", "2"):
        result = run_barehttp("crashing_app:app", "--chdir", str(tmp_path), "--workers", workers)
        assert result.returncode != 0
        assert "configuration missing" in result.stderr
        assert "listening" not in result.stderr


def test_chdir_makes_the_module_importable(start_process: StartProcess, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = start_process("tests.wsgi.apps.probe:app", "--chdir", str(REPO_ROOT), cwd=elsewhere)
    assert requests.get(server.url("/pid"), timeout=5).status_code == 200


@pytest.mark.parametrize("workers", ["1", "2"])
def test_factory_spec(start_process: StartProcess, workers: str) -> None:
    server = start_process(
        "tests.wsgi.apps.probe:create_app()",
        "--workers",
        workers,
        workers=2 if workers == "2" else 0,
    )
    response = requests.get(server.url("/environ"), timeout=5)
    assert response.json()["wsgi.multiprocess"] is (workers == "2")


def test_module_alone_means_application(start_process: StartProcess) -> None:
    server = start_process("tests.wsgi.apps.django_app")
    response = requests.get(server.url("/json"), timeout=5)
    assert response.json()["framework"] == "django"
