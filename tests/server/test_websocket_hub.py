"""WebSocketHub's delivery batches: the messages of one poll round share pool jobs."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable

import pytest

from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_frames import Opcode
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.server.websocket_hub import SESSIONS_PER_JOB, DeliveryBatch, WebSocketHub
from barehttp.server.websocket_owner import SessionTimes
from barehttp.server.websocket_session import WebSocketSession
from tests.server.test_websocket_session import Peer

WAIT_S = 10.0


def test_one_pool_job_per_eight_sessions_of_a_round_runs_every_delivery_once_in_order() -> None:
    batch = DeliveryBatch()
    ran: list[int] = []
    for index in range(2 * SESSIONS_PER_JOB + 1):
        batch.add(lambda index=index: ran.append(index))
    dispatched: list[Callable[[], None]] = []
    batch.submit(dispatched.append)
    assert len(dispatched) == 3  # 17 deliveries: 3 jobs, not 17 threads woken
    for job in dispatched:
        job()
    assert ran == list(range(2 * SESSIONS_PER_JOB + 1))
    batch.submit(dispatched.append)  # submitted once: the next round starts empty
    assert len(dispatched) == 3


def test_a_lone_delivery_is_dispatched_as_it_is() -> None:
    batch = DeliveryBatch()
    job = lambda: None  # noqa: E731
    batch.add(job)
    dispatched: list[Callable[[], None]] = []
    batch.submit(dispatched.append)
    assert dispatched == [job]


def test_a_job_blocked_in_one_callback_leaves_the_rest_of_its_batch_to_the_others() -> None:
    batch = DeliveryBatch(sessions_per_job=2)
    release = threading.Event()
    done: list[int] = []
    all_others_done = threading.Event()
    others = 3

    def slow() -> None:
        release.wait(WAIT_S)

    def quick(index: int) -> None:
        done.append(index)
        if len(done) == others:
            all_others_done.set()

    batch.add(slow)
    for index in range(others):
        batch.add(lambda index=index: quick(index))
    threads: list[threading.Thread] = []
    batch.submit(lambda job: threads.append(threading.Thread(target=job)))
    assert len(threads) == 2
    threads[0].start()  # takes the slow one and blocks in it
    threads[1].start()
    try:
        assert all_others_done.wait(WAIT_S)
    finally:
        release.set()
        for thread in threads:
            thread.join(WAIT_S)
    assert sorted(done) == [0, 1, 2]


def test_a_failing_delivery_does_not_stop_the_rest_of_the_batch() -> None:
    batch = DeliveryBatch()
    ran: list[str] = []

    def failing() -> None:
        raise RuntimeError("callback bug")

    batch.add(failing)
    batch.add(lambda: ran.append("next"))
    dispatched: list[Callable[[], None]] = []
    batch.submit(dispatched.append)
    for job in dispatched:
        job()
    assert ran == ["next"]


def test_sessions_per_job_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="sessions_per_job"):
        DeliveryBatch(sessions_per_job=0)


def test_a_dispatch_from_another_thread_reaches_the_pool_at_once() -> None:
    dispatched: list[Callable[[], None]] = []
    hub = WebSocketHub(WebSocketLimits(), dispatched.append)
    job = lambda: None  # noqa: E731
    hub.dispatch(job)  # e.g. park() on a worker: no poll round would submit it
    assert dispatched == [job]


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.001)


def make_session(hub: WebSocketHub, limits: WebSocketLimits) -> tuple[WebSocketSession, Peer]:
    server_end, client_end = socket.socketpair()
    server_end.setblocking(False)
    session = WebSocketSession(
        server_end,
        WebSocketConnection(limits=limits),
        limits,
        SessionTimes(write_timeout_s=5.0, clock=time.monotonic),
        hub,
        server_end.close,
    )
    return session, Peer(client_end)


def test_the_messages_of_one_poll_round_share_pool_jobs() -> None:
    jobs: list[Callable[[], None]] = []
    limits = WebSocketLimits()
    hub = WebSocketHub(limits, jobs.append)
    got: list[str | bytes] = []
    pairs = [make_session(hub, limits) for _ in range(SESSIONS_PER_JOB + 2)]
    try:
        for session, _ in pairs:
            session.park(got.append, None)
            hub.add(session)
        first, first_peer = pairs[0]
        with first._lock:  # the hub thread blocks in first's on_readable, mid-round
            first_peer.send(Opcode.TEXT, b"first")
            # This hub's own thread: one of an earlier test, by the same name, may still be ending.
            hub_thread = hub._thread
            assert hub_thread is not None
            wait_until(lambda: is_in(hub_thread, "on_readable"))
            for _, peer in pairs[1:]:
                peer.send(Opcode.TEXT, b"next")  # all ready by the hub's next poll
        wait_until(lambda: len(jobs) >= 3)
        for job in list(jobs):
            job()
        assert len(jobs) == 3  # 1 job for the first round, 2 for the 9 of the next: not 10
        assert sorted(got) == ["first"] + ["next"] * (len(pairs) - 1)
    finally:
        hub.stop()
        for _, peer in pairs:
            peer.sock.close()


def is_in(thread: threading.Thread, function: str) -> bool:
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False
