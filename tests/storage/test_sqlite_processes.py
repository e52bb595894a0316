"""Two processes on one SQLite file: concurrent start-up, writes and spends, no lock errors."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import traceback
from multiprocessing.queues import Queue
from pathlib import Path

from barehttp.storage.base import FailureScope, UsernameTaken
from barehttp.storage.sqlite import SQLiteStorage

SPENDS_PER_PROCESS = 100
SHARED_LIMIT = 150  # less than 2 * SPENDS_PER_PROCESS, so both processes hit the limit
STARTUP_RACES = 100


def work(
    path: str,
    worker: int,
    start: multiprocessing.synchronize.Barrier,
    results: Queue[tuple[int, int, str]],
) -> None:
    """Open the (fresh) file at the same moment as the other process, then write a lot."""
    successes, error = 0, ""
    try:
        # Both create the same fresh files at the same moment, many times, because
        # the start-up race (WAL switch, first migration) is only hit some of the time.
        for race in range(STARTUP_RACES):
            start.wait(timeout=30)
            SQLiteStorage(f"{path}.race{race}").close()
        start.wait(timeout=30)
        storage = SQLiteStorage(path)
        try:
            storage.create_user(
                username="shared",
                email="s@example.com",
                password_hash="h",
                credits_limit=SHARED_LIMIT,
                created_at=0.0,
            )
        except UsernameTaken:
            pass  # the other process won the race, as expected half the time
        shared = storage.find_user("SHARED")
        assert shared is not None
        own = storage.create_user(
            username=f"worker{worker}",
            email="w@example.com",
            password_hash="h",
            credits_limit=10,
            created_at=0.0,
        )
        for step in range(SPENDS_PER_PROCESS):
            if storage.spend_credits(shared.id, 1) is not None:
                successes += 1
            storage.record_login_failure(FailureScope.ADDRESS, f"w{worker}", float(step))
            storage.set_password_hash(own.id, f"h{step}")
        storage.close()
    except BaseException:  # report everything, the parent asserts
        error = traceback.format_exc()
        start.abort()  # do not leave the other process waiting at the barrier
    results.put((worker, successes, error))


def test_two_processes_share_one_file_without_lock_errors(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results: Queue[tuple[int, int, str]] = context.Queue()
    processes = [
        context.Process(target=work, args=(str(path), worker, start, results))
        for worker in range(2)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=90) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    assert [error for _, _, error in outcomes] == ["", ""]
    assert sum(successes for _, successes, _ in outcomes) == SHARED_LIMIT
    storage = SQLiteStorage(path)
    shared = storage.find_user("shared")
    assert shared is not None and shared.credits_used == SHARED_LIMIT
    assert len(storage.list_users()) == 3
    for worker in range(2):
        recorded = storage.recent_login_failures(FailureScope.ADDRESS, f"w{worker}", -1.0, 1000)
        assert len(recorded) == SPENDS_PER_PROCESS
    storage.close()
