"""`barehttp app --workers 2`: two processes on one SQLite file (WAL, busy timeout)."""

from __future__ import annotations

import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from barehttp.app.admin import set_limit
from barehttp.storage.sqlite import SQLiteStorage
from tests.integration.accounts_site import TIMEOUT_S, session_cookie_in, sign_up, spend
from tests.integration.conftest import SpawnServer

CONCURRENT_REQUESTS = 200
REMAINING = 50
ALREADY_USED = 3


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_two_workers_share_sessions_and_spend_exactly(
    spawn_server: SpawnServer, tmp_path: Path
) -> None:
    db = tmp_path / "app.db"
    server = spawn_server(
        "-m", "barehttp.cli", "app", "--port", "{port}", "--db", str(db),
        "--workers", "2", "--no-access-log",
    )  # fmt: skip
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        token = session_cookie_in(sign_up(client, "duo"))
        assert spend(client, ALREADY_USED).status_code == 200
    with SQLiteStorage(str(db)) as storage:
        set_limit(storage, "duo", ALREADY_USED + REMAINING)
    workers = server.wait_for_workers(2)  # the second may still start after the first serves
    cpu_before = {pid: cpu_ticks(pid) for pid in workers}

    # Fresh connections spread over both processes; each must accept the session
    # the other created, and the quota must hold across them.
    start = threading.Barrier(CONCURRENT_REQUESTS, timeout=TIMEOUT_S)

    def one_spend(_: int) -> httpx.Response:
        start.wait()
        with httpx.Client(base_url=server.url, cookies={"session": token}, timeout=30) as one:
            return one.post("/api/requests", json={})

    with ThreadPoolExecutor(CONCURRENT_REQUESTS) as executor:
        answers = list(executor.map(one_spend, range(CONCURRENT_REQUESTS)))

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == REMAINING, statuses
    assert statuses.count(402) == CONCURRENT_REQUESTS - REMAINING
    used = sorted(answer.json()["used"] for answer in answers if answer.status_code == 200)
    assert used == list(range(ALREADY_USED + 1, ALREADY_USED + REMAINING + 1))
    with SQLiteStorage(str(db)) as storage:
        user = storage.find_user("duo")
        assert user is not None and user.credits_used == ALREADY_USED + REMAINING
    assert all(cpu_ticks(pid) > cpu_before[pid] for pid in workers)  # both took a share

    os.kill(server.process.pid, signal.SIGTERM)
    assert server.wait() == 0
