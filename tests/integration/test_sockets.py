"""Where a server listens: --uds (behind nginx too), --fd, systemd socket activation.

Every process is started by the test in its own session and stopped by PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.nginx_proxy import free_port, run_nginx

BAREHTTP = str(Path(sys.executable).parent / "barehttp")
REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE = "tests.wsgi.apps.probe:app"
TIMEOUT_S = 20.0


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while text not in self.log():
            assert self.process.poll() is None, f"exited {self.process.returncode}: {self.log()}"
            assert time.monotonic() < deadline, f"no {text!r} in: {self.log()}"
            time.sleep(0.05)

    def stop(self) -> int:
        """SIGTERM to the server's process group (its workers too), then wait."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(TIMEOUT_S)


Start = Callable[..., Running]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    started: list[Running] = []

    def run(*command: str, pass_fds: tuple[int, ...] = ()) -> Running:
        log_path = tmp_path / f"server-{len(started)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(command),
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=pass_fds,
                start_new_session=True,
            )
        running = Running(process, log_path)
        started.append(running)
        return running

    yield run
    for running in started:
        running.stop()


def get_over_unix(path: Path, target: str = "/pid") -> tuple[int, bytes]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT_S)
        sock.connect(str(path))
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def get_over_tcp(port: int, target: str = "/pid") -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_uds_with_mode_is_served_and_removed_on_exit(start: Start, tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    server = start(BAREHTTP, "wsgi", PROBE, "--uds", str(path), "--uds-mode", "660")
    server.wait_for_log(f"listening on unix:{path}")
    assert stat.S_ISSOCK(path.lstat().st_mode)
    assert stat.S_IMODE(path.lstat().st_mode) == 0o660
    assert get_over_unix(path)[0] == 200
    assert server.stop() == 0
    assert not path.exists()


def test_uds_replaces_a_stale_socket_and_refuses_a_regular_file(
    start: Start, tmp_path: Path
) -> None:
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as leftover:  # a killed server's socket file
        leftover.bind(str(stale))
    server = start(BAREHTTP, "hello", "--uds", str(stale))
    server.wait_for_log("listening on unix:")
    assert get_over_unix(stale, "/")[0] == 200
    regular = tmp_path / "notes.txt"
    regular.write_text("keep me")
    result = subprocess.run(
        [BAREHTTP, "hello", "--uds", str(regular)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"barehttp: cannot listen on unix:{regular}: the path exists and is not a socket\n"
    )
    assert regular.read_text() == "keep me"


def test_nginx_proxies_to_uds_with_workers(start: Start, tmp_path: Path) -> None:
    curl_path = shutil.which("curl")
    assert curl_path, "curl is not installed"
    path = tmp_path / "app.sock"
    server = start(BAREHTTP, "wsgi", PROBE, "--uds", str(path), "--workers", "2")
    server.wait_for_log("listening on unix:")
    with run_nginx(tmp_path / "nginx", f"unix:{path}") as proxy:
        result = subprocess.run(
            [
                curl_path,
                "-sS",
                "--interface",
                "127.0.0.5",
                f"http://127.0.0.1:{proxy.port}/environ",
            ],
            capture_output=True,
            check=True,
            timeout=30,
        )
    environ = json.loads(result.stdout)
    assert environ["REMOTE_ADDR"] == "127.0.0.5"  # from nginx's X-Forwarded-For
    assert environ["wsgi.multiprocess"] is True
    assert server.stop() == 0
    assert not path.exists()


def test_fd_serves_an_inherited_socket_with_workers(start: Start) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    fd = listener.fileno()
    server = start(BAREHTTP, "wsgi", PROBE, "--fd", str(fd), "--workers", "2", pass_fds=(fd,))
    listener.close()  # the server holds its own copy now
    server.wait_for_log("worker")
    status, body = get_over_tcp(port)
    assert status == 200 and json.loads(body)["pid"] != server.process.pid
    assert server.stop() == 0


def test_fd_that_is_not_a_listening_socket_is_refused() -> None:
    read_end, write_end = os.pipe()
    try:
        result = subprocess.run(
            [BAREHTTP, "hello", "--fd", str(read_end)],
            capture_output=True,
            text=True,
            timeout=30,
            pass_fds=(read_end,),
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr.startswith(f"barehttp: --fd {read_end}")


@pytest.mark.parametrize(
    "command",
    [["hello"], ["wsgi", PROBE, "--workers", "2"]],
    ids=["one-process", "two-workers"],
)
def test_systemd_socket_activation(start: Start, command: list[str]) -> None:
    activate = shutil.which("systemd-socket-activate")
    assert activate, "systemd-socket-activate (Debian package systemd) is not installed"
    port = free_port()
    server = start(activate, "-l", f"127.0.0.1:{port}", BAREHTTP, *command)
    server.wait_for_log(f"Listening on 127.0.0.1:{port}")
    # The first connection starts the server, which then answers it on the passed socket.
    assert get_over_tcp(port)[0] == 200
    assert "using 1 socket(s) from systemd socket activation" in server.log()
    assert get_over_tcp(port)[0] == 200
    assert server.stop() == 0
