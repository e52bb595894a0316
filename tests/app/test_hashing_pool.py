"""HashingPool: at most max_concurrent hashes at once, a bounded wait, sizing from memory."""

from __future__ import annotations

import threading

import pytest

from barehttp.app.hashing_pool import (
    MAX_HASHING_THREADS,
    HashingBusy,
    HashingPool,
    hashing_threads_for,
)
from barehttp.app.passwords import ScryptParams
from barehttp.app.settings import AccountSettings

MIB = 1_048_576


def test_never_more_than_max_concurrent_at_once() -> None:
    pool = HashingPool(max_concurrent=3, max_wait_s=30.0)
    lock = threading.Lock()
    running, peak, started = 0, 0, 0
    three_running = threading.Barrier(3, timeout=30)

    def compute() -> int:
        nonlocal running, peak, started
        with lock:
            running += 1
            started += 1
            peak = max(peak, running)
            is_first_three = started <= 3
        if is_first_three:
            three_running.wait()  # the first three meet, so the peak really reaches 3
        with lock:
            running -= 1
        return 1

    results: list[int] = []
    callers = [
        threading.Thread(target=lambda: results.append(pool.run(compute))) for _ in range(40)
    ]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(timeout=60)
    pool.close()
    assert results == [1] * 40
    assert peak == 3


def test_busy_when_no_thread_frees_up_in_time() -> None:
    pool = HashingPool(max_concurrent=1, max_wait_s=0.2)
    release = threading.Event()
    started = threading.Event()

    def hold() -> None:
        started.set()
        release.wait(timeout=30)

    holder = threading.Thread(target=pool.run, args=(hold,))
    holder.start()
    assert started.wait(timeout=30)
    ran: list[bool] = []
    with pytest.raises(HashingBusy) as caught:
        pool.run(lambda: ran.append(True))
    assert caught.value.retry_after_s == 1
    release.set()
    holder.join(timeout=30)
    assert pool.run(lambda: 7) == 7
    assert ran == []  # the refused job was withdrawn, never run later
    pool.close()


def test_threads_from_memory() -> None:
    default = ScryptParams()
    assert hashing_threads_for(64 * MIB, default.maxmem_bytes) == 3
    assert hashing_threads_for(default.maxmem_bytes, default.maxmem_bytes) == 1
    assert hashing_threads_for(10**12, 1) == MAX_HASHING_THREADS
    with pytest.raises(ValueError):
        hashing_threads_for(default.maxmem_bytes - 1, default.maxmem_bytes)


def test_settings_refuse_a_budget_below_one_hash() -> None:
    with pytest.raises(ValueError, match="password_hashing_memory_bytes"):
        AccountSettings(password_hashing_memory_bytes=16 * MIB)


@pytest.mark.parametrize(
    "field",
    [
        "max_failed_sign_ins",
        "max_failed_sign_ins_per_username",
        "max_failed_sign_ins_per_address",
        "max_sign_ups_per_address",
        "max_slow_requests",
        "hsts_max_age_s",
    ],
)
def test_settings_refuse_zero_bounds(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        AccountSettings(**{field: 0})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "field",
    ["failure_window_s", "sign_up_window_s", "password_hashing_wait_s", "live_credits_poll_s"],
)
def test_settings_refuse_zero_durations(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        AccountSettings(**{field: 0.0})  # type: ignore[arg-type]
