"""SIGHUP without workers: drain, then re-execute in place on the same socket.

The PID stays (what systemd or a shell knows), the listening socket never
closes, so requests arriving meanwhile wait and none fails; new code that does
not load is refused before anything stops.
"""

from __future__ import annotations

import signal
from pathlib import Path

import requests

from tests.wsgi.conftest import StartProcess
from tests.wsgi.process import wait_until
from tests.wsgi.test_group_signals import KeepAliveLoad

APP = """
import os


def app(environ, start_response):
    body = {answer!r} if environ["PATH_INFO"] == "/version" else b'{{"pid": %d}}' % os.getpid()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
"""


def test_sighup_restarts_in_place_under_keep_alive_load(
    start_process: StartProcess, tmp_path: Path
) -> None:
    module = tmp_path / "restarting_app.py"
    module.write_text(APP.format(answer=b"one"))
    server = start_process("restarting_app:app", "--chdir", str(tmp_path), "--threads", "8")
    assert requests.get(server.url("/version"), timeout=10).content == b"one"
    with KeepAliveLoad(server, clients=12) as load:
        load.wait_for_requests(100)
        module.write_text(APP.format(answer=b"second"))  # another size: no stale .pyc
        server.signal_group(signal.SIGHUP)
        wait_until(lambda: "restarting in place" in server.log(), 30.0, "the restart")
        wait_until(lambda: server.log().count("listening on") == 2, 30.0, "the new start")
        load.wait_for_requests(100)
    assert load.failures == [], load.failures[:5]
    assert load.close_answers >= 1  # kept-alive connections were closed after a response
    assert requests.get(server.url("/version"), timeout=10).content == b"second"
    assert server.process.poll() is None  # the same process, serving the new code


def test_sighup_with_code_that_does_not_load_keeps_serving(
    start_process: StartProcess, tmp_path: Path
) -> None:
    module = tmp_path / "restarting_app.py"
    module.write_text(APP.format(answer=b"good"))
    server = start_process("restarting_app:app", "--chdir", str(tmp_path))
    module.write_text("raise RuntimeError('broken deploy')\n")
    server.signal_group(signal.SIGHUP)
    wait_until(lambda: "not restarting" in server.log(), 30.0, "the refused restart")
    assert "broken deploy" in server.log()
    assert requests.get(server.url("/version"), timeout=10).content == b"good"
    assert "restarting in place" not in server.log()
