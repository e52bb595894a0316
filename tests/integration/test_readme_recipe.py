"""The README's API walkthrough, run verbatim with real curl against a real `barehttp app`."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.integration.conftest import SpawnServer

README = Path(__file__).parents[2] / "README.md"
DOCUMENTED_ORIGIN = "127.0.0.1:8080"  # what the README's commands name
RECIPE_TIMEOUT_S = 60.0  # two default-cost scrypt hashes on a loaded machine


def fenced_block(text: str, marker: str) -> str:
    """The fenced code block right after ``<!-- {marker} -->``."""
    found = re.search(rf"<!-- {re.escape(marker)} -->\n```[a-z]*\n(.*?)```", text, re.S)
    assert found is not None, f"README has no block marked {marker!r}"
    return found.group(1)


def test_the_readme_api_walkthrough_works(spawn_server: SpawnServer, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl is not None, "curl is needed (make system-deps installs it)"
    readme = README.read_text()
    recipe = fenced_block(readme, "recipe: api-walkthrough")
    expected = fenced_block(readme, "recipe-output: api-walkthrough")
    for command in ("/signup", "/signin", "/api/requests", "/api/usage", "/api/signout"):
        assert command in recipe  # the walkthrough keeps covering each step

    server = spawn_server(
        "-m", "barehttp.cli", "app", "--port", "{port}", "--db", str(tmp_path / "app.db"),
        "--no-access-log",
    )  # fmt: skip
    script = recipe.replace(DOCUMENTED_ORIGIN, f"127.0.0.1:{server.port}")
    assert script != recipe
    result = subprocess.run(
        ["bash", "-e", "-u", "-o", "pipefail", "-c", script],
        cwd=tmp_path,  # cookies.txt lands here
        capture_output=True,
        text=True,
        timeout=RECIPE_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected.splitlines(), server.stderr
