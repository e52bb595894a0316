"""Unmodified Starlette and FastAPI apps under ``barehttp asgi``."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.asgi.conftest import StartAsgi
from tests.wsgi.process import wait_until

TIMEOUT_S = 30.0
APPS = {"star": "tests.asgi.apps.star:app", "fast": "tests.asgi.apps.fast:app"}


@pytest.mark.parametrize("name", sorted(APPS))
def test_framework_app(start: StartAsgi, markers: Path, name: str) -> None:
    server = start(APPS[name], "--max-body", "8M")
    assert (markers / f"{name}-startup").exists()  # lifespan startup ran before serving
    with httpx.Client(timeout=TIMEOUT_S) as client:
        if name == "fast":
            assert client.get(server.url("/items/7?q=x")).json() == {"item_id": 7, "q": "x"}
        else:
            assert client.get(server.url("/")).json()["hello"] == "world"
        with client.stream("GET", server.url("/numbers")) as response:
            assert response.headers["transfer-encoding"] == "chunked"
            assert response.read() == b"0\n1\n2\n3\n4\n"
        upload = os.urandom(5 * 1024 * 1024)
        response = client.post(server.url("/upload"), content=upload)
        assert response.text == f"{len(upload)} {hashlib.sha256(upload).hexdigest()}"
    message: str | bytes = "hello" if name == "star" else b"\x01\x02hello"
    with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=TIMEOUT_S) as websocket:
        for _ in range(3):
            websocket.send(message)
            assert websocket.recv(TIMEOUT_S) == message
    assert server.stop() == 0
    assert (markers / f"{name}-shutdown").exists()
    assert "Traceback" not in server.log()


def test_blocking_endpoint_does_not_stall_the_loop(start: StartAsgi, markers: Path) -> None:
    server = start(APPS["fast"])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(httpx.get, server.url("/block?token=b1"), timeout=TIMEOUT_S)
        wait_until((markers / "b1-started").exists, TIMEOUT_S, "the blocking endpoint")
        # While it blocks its thread, another request is answered.
        assert httpx.get(server.url("/items/1"), timeout=TIMEOUT_S).status_code == 200
        (markers / "b1-go").touch()
        assert blocked.result(TIMEOUT_S).text == "unblocked"
