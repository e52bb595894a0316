"""Signals to the whole process group, as a terminal's Ctrl-C and ``systemctl stop`` send.

Each server leads its own process group (start_new_session), and the tests
signal only that group. With workers, the group's signal reaches the supervisor
and every worker at once: that must still be one graceful shutdown.

The keep-alive load uses http.client, which never retries: a connection closed
under a request that was on its way counts as a failure.
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.wsgi.conftest import Markers, StartProcess
from tests.wsgi.process import ServerProcess, is_alive, wait_until

PROBE = "tests.wsgi.apps.probe:app"
DRAIN_CUT_STATUS = 3


def slow_request(server: ServerProcess, token: str, seconds: float) -> tuple[int, str | None]:
    """``GET /slow`` on its own connection: (status, Connection header)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=seconds + 20)
    try:
        connection.request("GET", f"/slow?seconds={seconds}&token={token}")
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Connection")
    finally:
        connection.close()


def start_slow_requests(
    pool: ThreadPoolExecutor, server: ServerProcess, markers: Markers, count: int, seconds: float
) -> list[Future[tuple[int, str | None]]]:
    """``count`` slow requests, returned once each one runs in the application."""
    tokens = [markers.new_token() for _ in range(count)]
    futures = [pool.submit(slow_request, server, token, seconds) for token in tokens]
    wait_until(
        lambda: all(markers.is_started(token) for token in tokens), 30.0, "slow requests to run"
    )
    return futures


class KeepAliveLoad:
    """``clients`` threads, each sending requests one after another on a kept-alive
    connection (a new one only after a response said ``Connection: close``)."""

    def __init__(self, server: ServerProcess, clients: int, limit: int = 20_000) -> None:
        self.server = server
        self.limit = limit  # per client: bounded even if the test never stops it
        self.completed = 0
        self.close_answers = 0  # responses that ended a kept-alive connection cleanly
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=20)
        for _ in range(self.limit):
            if self._stop.is_set():
                break
            try:
                connection.request("GET", "/pid")
                response = connection.getresponse()
                body = response.read()
                assert response.status == 200 and "pid" in json.loads(body), body
                closing = response.getheader("Connection") == "close"
            except Exception as error:  # every kind of failure is counted
                with self._lock:
                    self.failures.append(repr(error))
                connection.close()
                continue
            with self._lock:
                self.completed += 1
                self.close_answers += closing
        connection.close()

    def __enter__(self) -> KeepAliveLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
            assert not thread.is_alive()

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> None:
        target = self.completed + count
        wait_until(lambda: self.completed >= target, timeout, f"{count} more requests")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_group_signal_drains_in_flight_requests_and_exits_zero(
    start_process: StartProcess, markers: Markers, signum: signal.Signals
) -> None:
    server = start_process(PROBE, "--workers", "2", "--threads", "4", workers=2)
    workers = server.workers()
    with ThreadPoolExecutor(4) as pool:
        slow = start_slow_requests(pool, server, markers, 4, seconds=1.5)
        server.signal_group(signum)
        # Every worker got the group's signal and then the supervisor's: one drain.
        assert [future.result(timeout=30) for future in slow] == [(200, "close")] * 4
    assert server.process.wait(30) == 0, server.log()
    assert not any(is_alive(pid) for pid in workers)
    assert "second signal" not in server.log()


def test_second_group_sigint_forces_exit(start_process: StartProcess, markers: Markers) -> None:
    server = start_process(PROBE, "--workers", "2", workers=2)
    workers = server.workers()
    with ThreadPoolExecutor(1) as pool:
        (slow,) = start_slow_requests(pool, server, markers, 1, seconds=30)
        server.signal_group(signal.SIGINT)
        wait_until(lambda: "stopping 2 workers" in server.log(), 30.0, "the drain to start")
        server.signal_group(signal.SIGINT)  # Ctrl-C again: do not wait for the slow one
        assert server.process.wait(30) != 0
        wait_until(lambda: not any(is_alive(pid) for pid in workers), 30.0, "workers gone")
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            slow.result(timeout=30)
    assert "second signal" in server.log()


def test_drain_cut_by_shutdown_timeout_exits_non_zero(
    start_process: StartProcess, markers: Markers
) -> None:
    server = start_process(PROBE, "--workers", "2", "--shutdown-timeout", "0.5", workers=2)
    with ThreadPoolExecutor(1) as pool:
        start_slow_requests(pool, server, markers, 1, seconds=30)
        server.signal_group(signal.SIGTERM)
        assert server.process.wait(20) == DRAIN_CUT_STATUS
    assert "shutdown deadline passed" in server.log()


def test_single_process_drain_cut_exits_non_zero(
    start_process: StartProcess, markers: Markers
) -> None:
    server = start_process(PROBE, "--shutdown-timeout", "0.5")
    with ThreadPoolExecutor(1) as pool:
        start_slow_requests(pool, server, markers, 1, seconds=30)
        server.signal_group(signal.SIGTERM)
        assert server.process.wait(20) == DRAIN_CUT_STATUS


def test_two_reloads_under_keep_alive_load_fail_no_request(start_process: StartProcess) -> None:
    server = start_process(PROBE, "--workers", "2", "--threads", "8", workers=2)
    generation = server.workers()
    with KeepAliveLoad(server, clients=24) as load:
        load.wait_for_requests(200)
        for _ in range(2):
            server.signal_group(signal.SIGHUP)
            generation = server.wait_for_workers(2, excluding=generation, timeout=60)
            load.wait_for_requests(200)
    assert load.failures == [], load.failures[:5]
    # The leaving workers answered what came on their kept-alive connections.
    assert load.close_answers >= 1
    assert server.process.poll() is None


def test_max_requests_recycling_under_keep_alive_load_fails_no_request(
    start_process: StartProcess,
) -> None:
    server = start_process(
        PROBE, "--workers", "2", "--max-requests", "150", "--max-requests-jitter", "50", workers=2
    )
    original = server.workers()
    with KeepAliveLoad(server, clients=16) as load:
        load.wait_for_requests(1_000, timeout=60)
    assert load.failures == [], load.failures[:5]
    assert load.close_answers >= 1
    assert len(server.workers() | original) > 2  # workers were recycled
