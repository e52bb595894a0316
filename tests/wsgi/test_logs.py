"""What the command logs: the app's own loggers, PIDs, 'listening on' once, combined lines."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests.wsgi.conftest import StartProcess
from tests.wsgi.process import wait_until

LOGGING_APP = """
import logging

log = logging.getLogger("myapp")


def app(environ, start_response):
    log.debug("debug line from the app")
    log.info("info line from the app")
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
"""


def test_debug_level_shows_the_apps_loggers_with_worker_pids(
    start_process: StartProcess, tmp_path: Path
) -> None:
    (tmp_path / "logging_app.py").write_text(LOGGING_APP)
    server = start_process(
        "logging_app:app",
        "--chdir",
        str(tmp_path),
        "--workers",
        "2",
        "--log-level",
        "DEBUG",
        "--access-log-format",
        "combined",
        workers=2,
    )
    workers = server.workers()
    response = requests.get(server.url("/x"), headers={"Referer": "http://r/"}, timeout=10)
    assert response.text == "ok"
    wait_until(lambda: "GET /x" in server.log(), 20.0, "the access line")
    log = server.log()
    debug = re.search(r"\[(\d+)\] DEBUG myapp: debug line from the app", log)
    assert debug is not None, log
    assert int(debug.group(1)) in workers  # the line says which worker wrote it
    assert f"[{server.pid}] INFO barehttp.server: listening on" in log
    assert log.count("listening on") == 1  # the supervisor's line; workers say nothing
    access = re.search(r'"GET /x HTTP/1\.1" 200 2 "http://r/" "python-requests/[^"]*" (\S+)', log)
    assert access is not None, log
    assert float(access.group(1)) >= 0


def test_info_level_hides_the_apps_debug_lines(start_process: StartProcess, tmp_path: Path) -> None:
    (tmp_path / "logging_app.py").write_text(LOGGING_APP)
    server = start_process("logging_app:app", "--chdir", str(tmp_path))
    requests.get(server.url("/"), timeout=10)
    wait_until(lambda: "info line from the app" in server.log(), 20.0, "the app's info line")
    assert "debug line from the app" not in server.log()
