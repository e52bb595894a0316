"""``barehttp asgi`` on a Unix socket (``--uds``) and on an inherited one (``--fd``):
HTTP and a WebSocket through the host's own acceptor."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
from websockets.sync.client import connect, unix_connect

from tests.wsgi.process import REPO_ROOT, wait_until

BAREHTTP = str(Path(sys.executable).with_name("barehttp"))
APP = "tests.asgi.apps.star:app"
TIMEOUT_S = 20.0


@contextlib.contextmanager
def running(arguments: list[str], log_path: Path, pass_fds: tuple[int, ...] = ()) -> Iterator[Path]:
    """``barehttp asgi ARGUMENTS`` until it logs that it listens; stopped by PID after."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [BAREHTTP, "asgi", APP, *arguments],
            cwd=REPO_ROOT,
            env={**os.environ, "ASGI_MARKERS": str(log_path.parent)},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
            start_new_session=True,
        )
    try:

        def is_listening() -> bool:
            assert process.poll() is None, log_path.read_text()
            return "listening on" in log_path.read_text()

        wait_until(is_listening, TIMEOUT_S, "barehttp asgi to listen")
        yield log_path
        process.send_signal(signal.SIGTERM)
        assert process.wait(TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(TIMEOUT_S)


def test_unix_socket_serves_http_and_websocket(tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    with running(["--uds", str(path)], tmp_path / "server.log"):
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, timeout=TIMEOUT_S) as client:
            assert client.get("http://localhost/").json()["hello"] == "world"
        with unix_connect(str(path), "ws://localhost/ws", open_timeout=TIMEOUT_S) as websocket:
            websocket.send("over unix")
            assert websocket.recv(TIMEOUT_S) == "over unix"
    assert not path.exists()


def test_inherited_socket_serves_http_and_websocket(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        fd = listener.fileno()
        with running(["--fd", str(fd)], tmp_path / "server.log", pass_fds=(fd,)):
            response = httpx.get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT_S)
            assert response.json()["hello"] == "world"
            with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=TIMEOUT_S) as websocket:
                websocket.send("inherited")
                assert websocket.recv(TIMEOUT_S) == "inherited"
