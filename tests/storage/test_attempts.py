"""Storage.claim_attempt and release_attempt: atomic, all-or-nothing, exact under concurrency."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import threading
import traceback
from multiprocessing.queues import Queue
from pathlib import Path

import pytest

from barehttp.storage.base import AttemptCounter, FailureScope, Storage
from barehttp.storage.migrations import MIGRATIONS
from barehttp.storage.sqlite import SQLiteStorage

PAIR = AttemptCounter(FailureScope.USERNAME_AT_ADDRESS, "alice@192.0.2.1", 5)
USER = AttemptCounter(FailureScope.USERNAME, "alice", 8)


def claim(storage: Storage, *counters: AttemptCounter, at: float = 100.0) -> int | None:
    return storage.claim_attempt(counters, attempted_at=at, since=at - 60.0)


def test_claims_until_the_counter_is_full(storage: SQLiteStorage) -> None:
    ids = [claim(storage, PAIR) for _ in range(7)]
    assert all(attempt_id is not None for attempt_id in ids[:5])
    assert ids[5:] == [None, None]
    assert storage.recent_login_failures(PAIR.scope, PAIR.key, 0.0, 100) == [100.0] * 5


def test_ids_are_positive_and_distinct(storage: SQLiteStorage) -> None:
    ids = [claim(storage, PAIR) for _ in range(5)]
    assert len(set(ids)) == 5 and all(i is not None and 0 < i < 2**63 for i in ids)


def test_full_counter_stores_nothing_against_the_others(storage: SQLiteStorage) -> None:
    for _ in range(5):
        assert claim(storage, PAIR, USER) is not None
    assert claim(storage, PAIR, USER) is None  # PAIR is full; USER must not grow
    assert len(storage.recent_login_failures(USER.scope, USER.key, 0.0, 100)) == 5


def test_failure_rows_count_too(storage: SQLiteStorage) -> None:
    for _ in range(4):
        storage.record_login_failure(PAIR.scope, PAIR.key, 90.0)
    assert claim(storage, PAIR) is not None
    assert claim(storage, PAIR) is None


def test_rows_at_or_before_since_do_not_count(storage: SQLiteStorage) -> None:
    for _ in range(5):
        assert claim(storage, PAIR, at=100.0) is not None
    assert claim(storage, PAIR, at=159.5) is None  # since = 99.5: all five inside
    assert claim(storage, PAIR, at=160.0) is not None  # since = 100.0: all five out


def test_release_removes_only_that_attempt(storage: SQLiteStorage) -> None:
    first = claim(storage, PAIR, USER)
    second = claim(storage, PAIR, USER)
    assert first is not None and second is not None
    assert storage.release_attempt(first) == 2
    assert storage.release_attempt(first) == 0
    assert len(storage.recent_login_failures(PAIR.scope, PAIR.key, 0.0, 100)) == 1
    assert len(storage.recent_login_failures(USER.scope, USER.key, 0.0, 100)) == 1


def test_released_ids_are_not_reused(storage: SQLiteStorage) -> None:
    first = claim(storage, PAIR)
    assert first is not None
    storage.release_attempt(first)
    second = claim(storage, PAIR)
    assert second is not None and second != first
    # A late release of the first id must not take back the second attempt.
    assert storage.release_attempt(first) == 0
    assert len(storage.recent_login_failures(PAIR.scope, PAIR.key, 0.0, 100)) == 1


def test_clear_and_expiry_remove_claimed_rows(storage: SQLiteStorage) -> None:
    for _ in range(5):
        claim(storage, PAIR)
    assert storage.clear_login_failures(PAIR.scope, PAIR.key) == 5
    assert claim(storage, PAIR) is not None
    assert storage.delete_login_failures_before(100.0) == 1


def test_no_counters_is_an_error(storage: SQLiteStorage) -> None:
    with pytest.raises(ValueError):
        storage.claim_attempt((), attempted_at=1.0, since=0.0)


def test_counter_needs_a_positive_bound() -> None:
    with pytest.raises(ValueError):
        AttemptCounter(FailureScope.USERNAME, "alice", 0)


def test_concurrent_claims_from_threads_are_exact(storage: SQLiteStorage) -> None:
    threads_count = 64
    start = threading.Barrier(threads_count)
    results: list[int | None] = []
    lock = threading.Lock()

    def race() -> None:
        start.wait(timeout=30)
        result = claim(storage, PAIR, USER)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=race) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == threads_count
    assert sum(result is not None for result in results) == PAIR.max_attempts


CLAIMS_PER_PROCESS = 40
SHARED_BOUND = 25  # fewer than the claims of one process, so both race for it


def claim_in_process(
    path: str, start: multiprocessing.synchronize.Barrier, results: Queue[tuple[int, str]]
) -> None:
    granted, error = 0, ""
    try:
        storage = SQLiteStorage(path)
        counter = AttemptCounter(FailureScope.ADDRESS, "203.0.113.9", SHARED_BOUND)
        start.wait(timeout=30)
        for _ in range(CLAIMS_PER_PROCESS):
            if storage.claim_attempt((counter,), attempted_at=100.0, since=0.0) is not None:
                granted += 1
        storage.close()
    except BaseException:  # report everything, the parent asserts
        error = traceback.format_exc()
        start.abort()
    results.put((granted, error))


def test_concurrent_claims_from_processes_are_exact(tmp_path: Path) -> None:
    path = tmp_path / "attempts.sqlite3"
    SQLiteStorage(path).close()  # migrate once, so the race is on the claims
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(3)
    results: Queue[tuple[int, str]] = context.Queue()
    processes = [
        context.Process(target=claim_in_process, args=(str(path), start, results)) for _ in range(3)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=90) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert [error for _, error in outcomes] == ["", "", ""]
    assert sum(granted for granted, _ in outcomes) == SHARED_BOUND


def test_file_from_schema_1_gains_attempts_and_keeps_failures(db_path: Path) -> None:
    old = SQLiteStorage(db_path, migrations=MIGRATIONS[:1])
    for _ in range(4):
        old.record_login_failure(PAIR.scope, PAIR.key, 90.0)
    old.close()
    upgraded = SQLiteStorage(db_path)
    assert claim(upgraded, PAIR) is not None
    assert claim(upgraded, PAIR) is None
    upgraded.close()
