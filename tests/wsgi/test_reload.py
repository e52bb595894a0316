"""--reload: a saved file restarts the server on the same socket; broken code waits for a fix."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.wsgi.conftest import StartProcess
from tests.wsgi.process import ServerProcess, wait_until

APP = """
def app(environ, start_response):
    body = {answer!r}
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def answer(server: ServerProcess) -> bytes | None:
    try:
        return requests.get(server.url("/"), timeout=5).content
    except requests.RequestException:
        return None


def test_reload_serves_new_code_and_survives_broken_code(
    start_process: StartProcess, tmp_path: Path
) -> None:
    module = tmp_path / "reloading_app.py"
    module.write_text(APP.format(answer=b"one"))
    server = start_process("reloading_app:app", "--chdir", str(tmp_path), "--reload")
    assert answer(server) == b"one"
    port = server.port

    module.write_text(APP.format(answer=b"second"))  # another size: no stale .pyc
    wait_until(lambda: answer(server) == b"second", 30.0, "the new code to answer")

    module.write_text("raise RuntimeError('half-saved edit')\n")
    wait_until(lambda: "waiting for a change" in server.log(), 30.0, "the failed start")
    assert "half-saved edit" in server.log()
    assert server.process.poll() is None  # still running, waiting for a fix

    module.write_text(APP.format(answer=b"fixed!!"))
    wait_until(lambda: answer(server) == b"fixed!!", 30.0, "the fixed code to answer")
    assert server.port == port  # one socket throughout
    assert server.log().count("reloading on changes") == 1
    assert server.stop() == 0
