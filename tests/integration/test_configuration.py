"""`python -m barehttp` configured from BAREHTTP_* variables, as a container would run it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def test_python_dash_m_with_options_from_the_environment(tmp_path: Path) -> None:
    log_path = tmp_path / "stderr.log"
    environ = {**os.environ, "BAREHTTP_PORT": "0", "BAREHTTP_MAX_BODY": "1K"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "barehttp", "hello", "--host", "127.0.0.1"],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while (match := LISTENING.search(log_path.read_text())) is None:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "no 'listening on' line"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{match.group(1)}/"
        assert httpx.post(url, content=b"x" * 1024, timeout=10).status_code == 200
        assert httpx.post(url, content=b"x" * 1025, timeout=10).status_code == 413
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    assert process.returncode == 0
