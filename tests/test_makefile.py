"""`make run`: its own small environment (no test extras), PORT= and ARGS= reach the server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def make_dry_run(*arguments: str) -> str:
    make = shutil.which("make")
    assert make, "make is not installed"
    result = subprocess.run(
        [make, "-n", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_run_takes_port_and_args() -> None:
    output = make_dry_run("run", "PORT=9001", "ARGS=--workers 2")
    assert ".venv-run/bin/barehttp app --port 9001 --workers 2" in output


def test_run_environment_installs_barehttp_alone() -> None:
    recipe = make_dry_run("-B", ".venv-run/.installed")
    assert "pip install --quiet -e ." in recipe
    assert "[test]" not in recipe
