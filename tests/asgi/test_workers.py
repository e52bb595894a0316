"""``barehttp asgi --workers N``: the pre-forked supervisor of ``wsgi --workers``, hosting ASGI.

Each test starts real processes (port 0, read from the log) and waits on
conditions: markers the app writes, the supervisor's log, /proc.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.wsgi.process import (
    BAREHTTP,
    REPO_ROOT,
    ServerProcess,
    is_alive,
    start_barehttp,
    wait_until,
)
from tests.wsgi.test_group_signals import KeepAliveLoad

APP = "tests.asgi.apps.pids:app"
TIMEOUT_S = 20.0
DRAIN_CUT_STATUS = 3


@pytest.fixture
def start(tmp_path: Path, markers: Path) -> Iterator[object]:
    """``start(*arguments, workers=N, cwd=...)``: ``barehttp asgi``, stopped by PID after."""
    started: list[ServerProcess] = []

    def run(*arguments: str, workers: int, cwd: Path = REPO_ROOT) -> ServerProcess:
        server = start_barehttp(
            list(arguments),
            tmp_path / f"server-{len(started)}.log",
            cwd=cwd,
            environment={"ASGI_MARKERS": str(markers)},
            workers=workers,
            host_command="asgi",
        )
        started.append(server)
        return server

    yield run
    for server in started:
        server.stop()


def get(server: ServerProcess, path: str) -> tuple[int, bytes]:
    """One request on its own connection: (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT_S)
    try:
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def fetch_pid(server: ServerProcess) -> int:
    status, body = get(server, "/pid")
    assert status == 200, body
    pid: int = json.loads(body)["pid"]
    return pid


def start_slow(
    pool: ThreadPoolExecutor, server: ServerProcess, markers: Path, tokens: list[str]
) -> list[Future[tuple[int, bytes]]]:
    """``/slow`` requests, returned once each runs in the app (it waits for ``<token>-go``)."""
    futures = [pool.submit(get, server, f"/slow?token={token}") for token in tokens]
    wait_until(
        lambda: all((markers / f"{token}-started").exists() for token in tokens),
        TIMEOUT_S,
        "the slow requests to run",
    )
    return futures


def release(markers: Path, tokens: list[str]) -> None:
    for token in tokens:
        (markers / f"{token}-go").touch()


def test_each_worker_runs_the_lifespan_and_serves(start: object, markers: Path) -> None:
    server = start(APP, "--workers", "2", workers=2)  # type: ignore[operator]
    workers = server.workers()
    assert len(workers) == 2 and server.pid not in workers
    for pid in workers:  # startup ran in each worker, before it counted as started
        assert (markers / f"startup-{pid}").exists()
    assert not (markers / f"startup-{server.pid}").exists()  # never in the supervisor
    assert {fetch_pid(server) for _ in range(20)} <= workers
    assert server.stop() == 0
    for pid in workers:
        assert (markers / f"shutdown-{pid}").exists()


def test_killed_worker_is_replaced(start: object) -> None:
    server = start(APP, "--workers", "2", workers=2)  # type: ignore[operator]
    original = server.workers()
    victim = min(original)
    os.kill(victim, signal.SIGKILL)
    replaced = server.wait_for_workers(2, excluding={victim})
    assert len(replaced - original) == 1
    assert {fetch_pid(server) for _ in range(10)} <= replaced
    assert f"worker {victim} died" in server.log()


def test_workers_exit_when_the_supervisor_is_killed(start: object) -> None:
    server = start(APP, "--workers", "2", workers=2)  # type: ignore[operator]
    workers = server.workers()
    server.process.kill()  # SIGKILL: the supervisor tells its workers nothing
    server.process.wait(TIMEOUT_S)
    wait_until(lambda: not any(is_alive(pid) for pid in workers), TIMEOUT_S, "orphans to exit")
    assert "is gone" in server.log()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_group_signal_is_one_graceful_drain(
    start: object, markers: Path, signum: signal.Signals
) -> None:
    server = start(APP, "--workers", "2", workers=2)  # type: ignore[operator]
    workers = server.workers()
    tokens = [f"drain-{index}" for index in range(4)]
    with ThreadPoolExecutor(len(tokens)) as pool:
        slow = start_slow(pool, server, markers, tokens)
        server.signal_group(signum)  # every worker and the supervisor get it at once
        wait_until(
            lambda: all(f"worker {pid} draining" in server.log() for pid in workers),
            TIMEOUT_S,
            "both workers to drain",
        )
        release(markers, tokens)  # in-flight requests finish during the drain
        assert [future.result(TIMEOUT_S)[0] for future in slow] == [200] * len(tokens)
    assert server.process.wait(TIMEOUT_S) == 0, server.log()
    assert not any(is_alive(pid) for pid in workers)
    assert "second signal" not in server.log()


def test_drain_cut_by_the_shutdown_timeout_exits_3(start: object, markers: Path) -> None:
    server = start(APP, "--workers", "2", "--shutdown-timeout", "0.5", workers=2)  # type: ignore[operator]
    with ThreadPoolExecutor(1) as pool:
        (slow,) = start_slow(pool, server, markers, ["never-released"])
        server.signal_group(signal.SIGTERM)
        assert server.process.wait(TIMEOUT_S) == DRAIN_CUT_STATUS
        with pytest.raises((ConnectionError, http.client.HTTPException)):
            slow.result(TIMEOUT_S)


APP_SOURCE = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"VERSION"})
"""


def test_sighup_replaces_workers_one_by_one_with_the_new_code(
    start: object, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    module = project / "hup_app.py"
    module.write_text(APP_SOURCE.replace("VERSION", "one"))
    server = start("hup_app:app", "--chdir", str(project), "--workers", "2", workers=2)  # type: ignore[operator]
    original = server.workers()
    assert get(server, "/") == (200, b"one")
    failures: list[str] = []
    answers: list[bytes] = []
    stop = threading.Event()

    def keep_asking() -> None:  # requests all along the reload: none may fail
        for _ in range(20_000):
            if stop.is_set():
                return
            try:
                answers.append(get(server, "/")[1])
            except (OSError, http.client.HTTPException) as error:
                failures.append(repr(error))

    asker = threading.Thread(target=keep_asking, daemon=True)
    asker.start()
    module.write_text(APP_SOURCE.replace("VERSION", "second"))  # another size: no stale .pyc
    server.signal(signal.SIGHUP)
    server.wait_for_workers(2, excluding=original, timeout=60)
    stop.set()
    asker.join(TIMEOUT_S)
    assert failures == []
    assert {get(server, "/")[1] for _ in range(6)} == {b"second"}
    assert server.process.poll() is None


def test_max_requests_recycles_workers(start: object) -> None:
    server = start(APP, "--workers", "2", "--max-requests", "5", workers=2)  # type: ignore[operator]
    pids = [fetch_pid(server) for _ in range(40)]
    assert len(set(pids)) >= 4  # at most 5 (and those in flight at retirement) each
    assert len(server.wait_for_workers(2)) == 2
    assert "died" not in server.log()


def test_failed_lifespan_startup_stops_the_supervisor_with_the_message() -> None:
    command = [str(BAREHTTP), "asgi", "tests.asgi.apps.failing:app", "--port", "0"]
    result = subprocess.run(
        [*command, "--workers", "2"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "application startup failed: database unreachable" in result.stderr
    assert result.stderr.count("did not start") == 1  # no respawning
    assert "Traceback" not in result.stderr


def test_sighup_without_workers_restarts_in_place_with_the_new_code(
    start: object, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    module = project / "hup_single.py"
    module.write_text(APP_SOURCE.replace("VERSION", "one"))
    server = start("hup_single:app", "--chdir", str(project), workers=0)  # type: ignore[operator]
    assert get(server, "/") == (200, b"one")
    module.write_text(APP_SOURCE.replace("VERSION", "second"))
    server.signal(signal.SIGHUP)

    def serves_second() -> bool:
        try:
            return get(server, "/")[1] == b"second"
        except (OSError, http.client.HTTPException):
            return False  # the restart's brief gap: connections wait in the backlog

    wait_until(serves_second, TIMEOUT_S, "the new code")
    assert server.process.poll() is None  # the same process (PID) serves it
    assert "restarting in place" in server.log()


def test_replacements_that_cannot_start_with_no_worker_left_stop_the_supervisor(
    start: object, markers: Path
) -> None:
    server = start(APP, "--workers", "2", workers=2)  # type: ignore[operator]
    workers = server.workers()
    (markers / "fail-startup").touch()  # from now on, a new worker's startup fails
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    assert server.process.wait(60) == 1
    log = server.log()
    assert "application startup failed: no database now" in log
    assert "no worker is serving and a new one could not start: stopping" in log


def test_sighup_with_broken_code_keeps_the_old_workers(start: object, tmp_path: Path) -> None:
    """A new worker must be ready before an old one leaves: code that fails replaces none."""
    project = tmp_path / "project"
    project.mkdir()
    module = project / "hup_broken.py"
    module.write_text(APP_SOURCE.replace("VERSION", "good"))
    server = start("hup_broken:app", "--chdir", str(project), "--workers", "2", workers=2)  # type: ignore[operator]
    original = server.workers()
    module.write_text("raise RuntimeError('broken deploy')\n")
    server.signal(signal.SIGHUP)
    wait_until(lambda: "reload abandoned" in server.log(), TIMEOUT_S, "the reload to give up")
    assert "broken deploy" in server.log()
    assert {get(server, "/")[1] for _ in range(6)} == {b"good"}
    assert server.wait_for_workers(2) == original
    assert server.process.poll() is None


def test_two_reloads_under_keep_alive_load_fail_no_request(start: object) -> None:
    """Kept-alive connections of a leaving worker: the request in flight, or the next one
    within drain_keep_alive_s, is answered with Connection: close; none is cut."""
    server = start(APP, "--workers", "2", workers=2)  # type: ignore[operator]
    generation = server.workers()
    with KeepAliveLoad(server, clients=16) as load:
        load.wait_for_requests(200)
        for _ in range(2):
            server.signal_group(signal.SIGHUP)
            generation = server.wait_for_workers(2, excluding=generation, timeout=60)
            load.wait_for_requests(200)
    assert load.failures == [], load.failures[:5]
    assert load.close_answers >= 1
    assert server.process.poll() is None
