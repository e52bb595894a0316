"""Run ``barehttp wsgi`` as a subprocess on 127.0.0.1 and look at its workers.

The server binds port 0 and the test reads the chosen port from its log, so
there is no race for a "free" port. Every process started is stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BAREHTTP = Path(sys.executable).with_name("barehttp")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
# Both the single-process server and the supervisor log the bound address.
LISTENING = re.compile(r"listening on (?:https?://)?127\.0\.0\.1:(\d+)")


def child_pids(pid: int) -> set[int]:
    """Direct children of ``pid`` (every thread's list, from /proc)."""
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children.update(int(part) for part in (task / "children").read_text().split())
    return children


def is_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until(predicate: object, timeout: float, message: str) -> None:
    """Poll ``predicate()`` every 50 ms; fail the test after ``timeout`` seconds."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(0.05)


@dataclass
class ServerProcess:
    """A running ``barehttp wsgi`` process and its log file (stderr and stdout)."""

    process: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0
    known_children: set[int] = field(default_factory=set)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def workers(self) -> set[int]:
        pids = child_pids(self.pid)
        self.known_children |= pids
        return pids

    def wait_for_workers(
        self, count: int, *, excluding: set[int] | None = None, timeout: float = 15.0
    ) -> set[int]:
        """Wait until exactly ``count`` workers serve, none of them in ``excluding``.

        A worker counts once the supervisor logged it as started, i.e. once it
        loaded the application and listens: a forked child may still be importing.
        """
        excluding = excluding or set()
        found: set[int] = set()

        def is_ready() -> bool:
            nonlocal found
            found = {pid for pid in self.workers() if is_alive(pid)}
            log = self.log()
            started = all(f"worker {pid} started" in log for pid in found)
            return len(found) == count and started and not found & excluding

        wait_until(is_ready, timeout, f"{count} workers (log: {self.log()[-2000:]})")
        return found

    def signal(self, signum: signal.Signals) -> None:
        os.kill(self.pid, signum)

    def signal_group(self, signum: signal.Signals) -> None:
        """``signum`` to the server's whole process group, as a terminal's Ctrl-C or
        ``systemctl stop`` sends it (the server leads its own group: start_new_session)."""
        os.killpg(self.pid, signum)

    def stop(self) -> int | None:
        """SIGTERM and wait; SIGKILL the parent and any workers it left behind."""
        if self.process.poll() is None:
            self.workers()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        for pid in self.known_children:
            if is_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return self.process.returncode


def _limit_open_files(limit: tuple[int, int]) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, limit)

    return apply


def start_barehttp(
    arguments: list[str],
    log_path: Path,
    *,
    cwd: Path = REPO_ROOT,
    environment: dict[str, str] | None = None,
    workers: int = 0,
    host_command: str = "wsgi",
    open_files_limit: tuple[int, int] | None = None,
) -> ServerProcess:
    """Start ``barehttp wsgi ARGUMENTS --host 127.0.0.1 --port 0``; wait until it listens.

    ``host_command`` "asgi" starts ``barehttp asgi`` the same way.

    With ``workers`` set, also wait until that many worker processes run.
    ``open_files_limit`` (soft, hard): the server's RLIMIT_NOFILE, as systemd would set it.
    """
    env = {**os.environ, **(environment or {})}
    command = [str(BAREHTTP), host_command, *arguments, "--host", "127.0.0.1", "--port", "0"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, for signal_group()
            preexec_fn=None if open_files_limit is None else _limit_open_files(open_files_limit),
        )
    server = ServerProcess(process, log_path)
    try:

        def is_listening() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"barehttp exited {process.returncode}: {server.log()}")
            match = LISTENING.search(server.log())
            if match:
                server.port = int(match.group(1))
            return match is not None

        wait_until(is_listening, START_TIMEOUT_S, f"barehttp to listen: {command}")
        if workers:
            server.wait_for_workers(workers)
    except BaseException:
        server.stop()
        raise
    return server
