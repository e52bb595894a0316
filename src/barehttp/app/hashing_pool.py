"""Password hashing on a few dedicated threads: bounded concurrency, so bounded memory.

scrypt at the default parameters allocates 16 MiB per call. Run on the server's 64
handler threads, a flood of sign-ups makes up to 64 such allocations at once, and
glibc keeps the freed memory in each thread's arena (measured: +480 MiB RSS for 320
sign-ups). Here only `max_concurrent` threads ever hash, so hashing holds at most
`max_concurrent * ScryptParams.maxmem_bytes` however many requests arrive.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger("barehttp.app")

T = TypeVar("T")

# More hashing threads than this would only queue on the CPUs anyway.
MAX_HASHING_THREADS = 32


class HashingBusy(Exception):
    """Every hashing thread stayed busy for `max_wait_s`; answer 503 with Retry-After."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"password hashing is busy; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


def hashing_threads_for(memory_bytes: int, bytes_per_hash: int) -> int:
    """How many hashes fit at once in `memory_bytes` (1..MAX_HASHING_THREADS).

    Raises:
        ValueError: if not even one hash fits.
    """
    if bytes_per_hash < 1 or memory_bytes < bytes_per_hash:
        raise ValueError(
            f"password hashing memory ({memory_bytes} bytes) must hold one hash"
            f" ({bytes_per_hash} bytes)"
        )
    return min(MAX_HASHING_THREADS, memory_bytes // bytes_per_hash)


class HashingPool:
    """Runs hash computations on `max_concurrent` threads; callers wait `max_wait_s` at most."""

    def __init__(self, *, max_concurrent: int, max_wait_s: float) -> None:
        if not 1 <= max_concurrent <= MAX_HASHING_THREADS:
            raise ValueError(f"max_concurrent must be 1..{MAX_HASHING_THREADS}")
        if not math.isfinite(max_wait_s) or max_wait_s <= 0:
            raise ValueError("max_wait_s must be a positive number of seconds")
        self.max_concurrent = max_concurrent
        self.max_wait_s = max_wait_s
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrent, thread_name_prefix="barehttp-hash"
        )

    def run(self, compute: Callable[[], T]) -> T:
        """`compute()` on a hashing thread.

        Raises:
            HashingBusy: it did not start within `max_wait_s` (it never will).
        """
        future = self._executor.submit(compute)
        try:
            return future.result(timeout=self.max_wait_s)
        except concurrent.futures.TimeoutError:
            if future.cancel():  # still queued: give the waiting request back its thread
                logger.warning("password hashing busy for %.1f s; refused", self.max_wait_s)
                raise HashingBusy(max(1, math.ceil(self.max_wait_s))) from None
        return future.result()  # already running: it ends within one hash's time

    def close(self) -> None:
        """Stop the threads once queued work is done."""
        self._executor.shutdown(wait=False, cancel_futures=True)
