"""WorkerPool: threads that serve ready connections, a few at a time, with spares.

Work reaches a thread in two ways: a job from the bounded queue (a new
connection, from the acceptor; refused when the queue is full), or a parked
connection that became ready, which the thread waits for itself on the
reactor's epoll (``take_ready``): a request on a kept-alive connection is
never handed from one thread to another.

Only ``poller_count`` threads do this at once; each holds a *turn*. The other
threads, the spares, wait for a turn on a lock, where they cost no CPU and do
not compete for the GIL: dozens of runnable threads taking turns on one GIL
made a long latency tail (docs/latency.md). A thread that has stayed inside one
job for ``handoff_s`` (a handler sleeping or waiting on a database, a client
slow to take its response, a TLS handshake) gives its turn to a spare: the
monitor thread sees it and wakes one, so a handler that blocks never leaves the
server with nobody serving. The thread finishes its job, then waits for a turn
like any spare. Go's scheduler hands a processor over from a goroutine stuck in
a system call in the same way.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("barehttp.server")

Job = Callable[[], None]
# Waits up to the given seconds for one ready parked connection; the job serving it.
TakeReady = Callable[[float], Job | None]
# A thread waiting for work wakes at least this often, to notice stop().
_WAIT_S = 0.5
# After this many ticks with no thread inside a job, the monitor sleeps until a job starts.
_MONITOR_IDLE_TICKS = 100


class _Slot:
    """One thread's place, read by the monitor to find a thread stuck in one job."""

    __slots__ = ("busy", "displaced", "seen", "turn")

    def __init__(self) -> None:
        self.turn = 0  # jobs this thread started
        self.busy = False  # inside a job now
        self.seen = -1  # ``turn`` at the monitor's last tick
        self.displaced = False  # its turn went to a spare while it was inside a job


class WorkerPool:
    """Runs jobs on up to ``thread_count`` threads, ``poller_count`` of them at once
    unless some block; refuses a job when ``queue_limit`` jobs wait.

    A refused job is the caller's to answer (the server sends 503), so memory
    never grows with load.
    """

    def __init__(
        self,
        thread_count: int,
        queue_limit: int,
        name: str = "barehttp-worker",
        *,
        poller_count: int = 2,
        handoff_s: float = 0.001,
        take_ready: TakeReady | None = None,
        wake: Callable[[int], None] | None = None,
    ) -> None:
        if thread_count < 1 or queue_limit < 1 or poller_count < 1 or handoff_s <= 0:
            raise ValueError("a pool needs a thread, a queue slot, a poller and a hand-off time")
        # SimpleQueue is implemented in C and much cheaper than queue.Queue; the bound
        # is enforced by submit() with qsize(), which may overshoot by a job or two
        # under a race — harmless, the bound is about memory, not exactness.
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()  # None: stop
        self._queue_limit = queue_limit
        self.poller_count = min(poller_count, thread_count)
        self._handoff_s = handoff_s
        self._take_ready = take_ready
        self._wake = wake  # wakes ``count`` threads waiting in take_ready()
        # Queued jobs not yet finished, and responses held (see hold()). Counted under
        # one lock from submit() to the end of the job, so wait_idle() never sees a job
        # in the gap between leaving the queue and starting to run.
        self._unfinished = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        # The threads holding a place among the pollers (a dict: its pop is atomic).
        self._holders: dict[_Slot, None] = {}
        self._spares = threading.Semaphore(0)  # released to wake a spare into a place
        self._stopping = False
        self._stop_signal = threading.Lock()  # held until stop(): the monitor waits on it
        self._stop_signal.acquire()
        self.handoffs = 0  # turns handed to a spare (a figure for tests and benches)
        self._monitor_asleep = False
        self._monitor_wakeup = threading.Event()
        self._slots = [_Slot() for _ in range(thread_count)]
        self._threads = [
            threading.Thread(
                target=self._run,
                args=(slot, index < self.poller_count),
                name=f"{name}-{index}",
                daemon=True,
            )
            for index, slot in enumerate(self._slots)
        ]
        self._threads.append(
            threading.Thread(target=self._monitor, name=f"{name}-monitor", daemon=True)
        )
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
        if self._wake is not None:  # a thread with a turn may be waiting in take_ready()
            self._wake(1)
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

    @property
    def serving_count(self) -> int:
        """Threads holding a place among the pollers now (``poller_count`` unless
        handlers block)."""
        return len(self._holders)

    def has_waiting_jobs(self) -> bool:
        """True when jobs wait for a thread: a worker should not linger on one client."""
        return not self._jobs.empty()

    def is_crowded(self, open_connections: int) -> bool:
        """True when a worker must not wait on one client: more connections are open
        than threads hold turns (the others would wait for a thread), or jobs wait."""
        return open_connections > self.poller_count or not self._jobs.empty()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs, waits or is held; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            if not self._idle.wait_for(lambda: self._unfinished == 0, timeout=timeout):
                return False
        # Connections served from take_ready() are not counted: look at the threads.
        while any(slot.busy for slot in self._slots):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def stop(self, timeout: float = 1.0) -> None:
        """Let each thread finish its current job, then end the threads.

        ``timeout`` bounds the whole stop, not each thread: 64 threads must not
        turn a 0.1 s budget into 6.4 s.
        """
        self._stopping = True
        self._stop_signal.release()
        self._monitor_wakeup.set()
        self._spares.release(len(self._slots))  # every spare wakes and sees the stop
        if self._wake is not None:
            self._wake(len(self._slots))
        for _ in self._slots:  # for threads waiting on the queue itself
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, slot: _Slot, holds_place: bool) -> None:
        while True:
            if not holds_place:
                self._spares.acquire()  # a spare waits here, off the GIL
                if self._stopping:
                    return
            self._holders[slot] = None
            self._serve(slot)
            if self._stopping:
                return
            holds_place = False

    def _serve(self, slot: _Slot) -> None:
        """Take and run jobs while this thread holds a place among the pollers."""
        jobs = self._jobs
        take_ready = self._take_ready
        holders = self._holders
        poller_count = self.poller_count
        while not self._stopping:
            queued = not jobs.empty()
            job: Job | None
            if queued:
                try:
                    job = jobs.get_nowait()
                except queue.Empty:  # another thread took it
                    continue
                if job is None:
                    return
            elif take_ready is not None:
                job = take_ready(_WAIT_S)
                if job is None:
                    continue
            else:
                try:
                    job = jobs.get(timeout=_WAIT_S)
                except queue.Empty:
                    continue
                if job is None:
                    return
                queued = True
            slot.turn += 1
            slot.busy = True
            if self._monitor_asleep:
                self._monitor_wakeup.set()
            try:
                job()
            except BaseException:  # a job must never kill its thread (nor may sys.exit())
                logger.exception("unhandled error in worker job")
            slot.busy = False
            if queued:
                self.release()
            if slot.displaced:  # its place went to a spare while it was in the job
                slot.displaced = False
                if self._free_holders() >= poller_count:
                    return  # enough others serve: wait as a spare
                holders[slot] = None  # handlers block often: one more thread serves
            elif len(holders) > poller_count and self._free_holders() > poller_count:
                holders.pop(slot, None)  # more serve than needed now: back to the spares
                return

    def _free_holders(self) -> int:
        """Threads holding a place that are not inside a job (polling, or between jobs)."""
        return sum(1 for slot in list(self._holders) if not slot.busy)

    def _monitor(self) -> None:
        """Every ``handoff_s``: give the place of a thread still in the job it was in at
        the last tick to a spare. Sleeps while no thread is in a job."""
        tick = self._handoff_s
        idle_ticks = 0
        while not self._stop_signal.acquire(timeout=tick):
            if self._check_holders():
                idle_ticks = 0
                continue
            idle_ticks += 1
            if idle_ticks < _MONITOR_IDLE_TICKS:
                continue
            idle_ticks = 0
            self._monitor_asleep = True  # then look again: a job may have started meanwhile
            if not any(slot.busy for slot in list(self._holders)):
                self._monitor_wakeup.wait()
            self._monitor_wakeup.clear()
            self._monitor_asleep = False

    def _check_holders(self) -> bool:
        """One tick: if no thread holding a place started a job since the last tick,
        hand over the places of those stuck in one; True if any is in a job.

        A thread that started no job may only be waiting for the GIL while another
        runs: while any thread makes progress, the server is serving, and a spare
        would only add one more thread to wait for the GIL.
        """
        any_busy = progressed = False
        stuck = []
        for slot in list(self._holders):
            turn = slot.turn
            if turn != slot.seen:
                progressed = True
            elif slot.busy:  # in the same job for at least a whole tick
                stuck.append(slot)
            any_busy = any_busy or slot.busy
            slot.seen = turn
        if not progressed:
            for slot in stuck:
                if self._holders.pop(slot, 0) is None:
                    slot.displaced = True
                    self.handoffs += 1
                    self._spares.release()  # a spare takes the place
        return any_busy
