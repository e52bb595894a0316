"""scripts/cluster.py (`make cluster`): PostgreSQL, three instances and nginx; Ctrl-C stops all."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.integration.accounts_site import TIMEOUT_S, session_cookie_in, sign_up
from tests.integration.conftest import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cluster.py"
READY_TIMEOUT_S = 90.0


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    return state != "Z"


def test_cluster_serves_through_nginx_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    output = tmp_path / "cluster.out"
    with output.open("wb") as stream:
        process = subprocess.Popen(
            [sys.executable, str(SCRIPT), "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "Ctrl-C" not in output.read_text():
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, "cluster not ready"
            time.sleep(0.1)
        text = output.read_text()
        upstreams = [int(p) for p in re.search(r"-> ([\d, ]+)", text).group(1).split(", ")]  # type: ignore[union-attr]
        assert len(upstreams) == 3
        socket_dir = Path(re.search(r"host=(\S+?)&", text).group(1))  # type: ignore[union-attr]
        assert socket_dir.is_dir()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT_S) as client:
            token = session_cookie_in(sign_up(client, "carla"))
        for upstream in upstreams:  # the session is valid on every instance
            usage = httpx.get(
                f"http://127.0.0.1:{upstream}/api/usage",
                cookies={"session": token},
                timeout=TIMEOUT_S,
            )
            assert usage.status_code == 200
        children = [
            int(pid)
            for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        ]
        assert len(children) >= 4  # three instances and nginx
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert [pid for pid in children if is_running(pid)] == []
    assert "stopping" in output.read_text()
    assert not socket_dir.parent.exists()  # PostgreSQL stopped and its directory removed
    with httpx.Client(timeout=2) as client:
        try:
            client.get(f"http://127.0.0.1:{port}/")
            raise AssertionError("nginx still listening")
        except httpx.ConnectError:
            pass
