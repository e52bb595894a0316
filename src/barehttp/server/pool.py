"""WorkerPool: a fixed set of threads taking jobs from one bounded queue."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("barehttp.server")

Job = Callable[[], None]
_STOP: Job | None = None


class WorkerPool:
    """Runs jobs on ``thread_count`` threads; refuses work when ``queue_limit`` jobs wait.

    A refused job is the caller's to answer (the server sends 503), so memory
    never grows with load.
    """

    def __init__(self, thread_count: int, queue_limit: int, name: str = "barehttp-worker") -> None:
        if thread_count < 1 or queue_limit < 1:
            raise ValueError("a pool needs at least one thread and one queue slot")
        # SimpleQueue is implemented in C and much cheaper than queue.Queue; the bound
        # is enforced by submit() with qsize(), which may overshoot by a job or two
        # under a race — harmless, the bound is about memory, not exactness.
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._queue_limit = queue_limit
        # Jobs submitted and not yet finished (queued or running). Counted under one
        # lock from submit() to the end of the job, so wait_idle() never sees a job
        # in the gap between leaving the queue and starting to run.
        self._unfinished = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{index}", daemon=True)
            for index in range(thread_count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job, *, bounded: bool = True) -> bool:
        """Queue ``job``; False if the queue is full.

        ``bounded=False`` queues regardless: for connections already open and
        parked, whose memory is already spent, waiting their turn beats a 503.
        """
        if bounded and self._jobs.qsize() >= self._queue_limit:
            return False
        with self._lock:
            self._unfinished += 1
        self._jobs.put(job)
        return True

    def hold(self) -> None:
        """Count work done outside the pool (a response the reactor finishes) as unfinished."""
        with self._lock:
            self._unfinished += 1

    def release(self) -> None:
        """End what :meth:`hold` counted."""
        with self._lock:
            self._unfinished -= 1
            if self._unfinished == 0:
                self._idle.notify_all()

    def has_waiting_jobs(self) -> bool:
        """True when jobs wait for a thread: a worker should not linger on one client."""
        return not self._jobs.empty()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs, waits or is held; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout=timeout)

    def stop(self, timeout: float = 1.0) -> None:
        """Let each thread finish its current job, then end the threads.

        ``timeout`` bounds the whole stop, not each thread: 64 threads must not
        turn a 0.1 s budget into 6.4 s.
        """
        for _ in self._threads:
            self._jobs.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            if job is None:
                return
            try:
                job()
            except BaseException:  # a job must never kill its thread (nor may sys.exit())
                logger.exception("unhandled error in worker job")
            finally:
                self.release()
