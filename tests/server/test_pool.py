"""The worker pool: a few threads run jobs at once, and a blocked job hands its place on.

The pool runs here on its own, with its queue only (no reactor); every wait is
on a condition, bounded by WAIT_S.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from barehttp.server.pool import WorkerPool
from tests.server.conftest import StartServer
from tests.server.handlers import TestHandler
from tests.server.rawhttp import ResponseReader

WAIT_S = 10.0
LONG_S = 600.0  # a hand-off time no test reaches: the pool never hands a place over


@pytest.fixture
def pools() -> Iterator[list[WorkerPool]]:
    started: list[WorkerPool] = []
    yield started
    for pool in started:
        pool.stop(timeout=WAIT_S)


def make_pool(pools: list[WorkerPool], handoff_s: float) -> WorkerPool:
    pool = WorkerPool(8, 1_000, poller_count=1, handoff_s=handoff_s)
    pools.append(pool)
    return pool


def wait_until(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def test_jobs_that_do_not_block_long_run_one_at_a_time(pools: list[WorkerPool]) -> None:
    """With one poller and a hand-off time never reached, the spares stay off: each
    job sleeps a little, and yet no two run at once."""
    pool = make_pool(pools, handoff_s=LONG_S)
    lock = threading.Lock()
    running = [0]
    most = [0]
    done = threading.Semaphore(0)

    def job() -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
        done.release()

    for _ in range(30):
        assert pool.submit(job)
    for _ in range(30):
        assert done.acquire(timeout=WAIT_S)
    assert most[0] == 1
    assert pool.handoffs == 0


def test_a_blocked_job_hands_its_place_to_a_spare(pools: list[WorkerPool]) -> None:
    pool = make_pool(pools, handoff_s=0.01)
    release = threading.Event()
    blocked = threading.Event()
    later = threading.Event()

    def block() -> None:
        blocked.set()
        release.wait(WAIT_S)

    assert pool.submit(block)
    assert blocked.wait(WAIT_S)
    assert pool.submit(later.set)
    assert later.wait(WAIT_S)  # a spare took the blocked thread's place
    assert not release.is_set()
    assert pool.handoffs >= 1
    release.set()


def test_places_go_back_to_the_spares_once_jobs_stop_blocking(pools: list[WorkerPool]) -> None:
    pool = make_pool(pools, handoff_s=0.01)
    release = threading.Event()
    blocked = threading.Semaphore(0)

    def block() -> None:
        blocked.release()
        release.wait(WAIT_S)

    for _ in range(3):  # each one hands its thread's place to a spare
        assert pool.submit(block)
        assert blocked.acquire(timeout=WAIT_S)
    wait_until(lambda: pool.handoffs >= 3)
    release.set()
    # Quick jobs again: the extra places are given back, one thread serves.
    wait_until(lambda: pool.submit(lambda: None) and pool.serving_count == 1)


def test_a_blocking_handler_leaves_the_others_served(start_server: StartServer) -> None:
    """Two handlers block, as many as the pollers: a third client is still answered."""
    handler = TestHandler()
    server = start_server(handler, worker_threads=4, poller_threads=2, idle_timeout_s=30.0)
    blocked = [server.connect() for _ in range(2)]
    for sock in blocked:
        sock.sendall(b"GET /block HTTP/1.1\r\nHost: t\r\n\r\n")
    wait_until(lambda: handler.blocked_count == 2)
    response, _ = server.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", timeout=WAIT_S)
    assert response.status == 200
    assert not handler.release.is_set()
    handler.release.set()
    for sock in blocked:
        assert ResponseReader(sock).read_response().body == b"released"
