"""`GET /api/slow`: signed-in users only, a few at once; encoded slashes never reach /api/."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from barehttp.app import api as api_module
from tests.integration.accounts_site import (
    FAST_SETTINGS,
    Site,
    new_client,
    running_site,
    session_cookie_in,
    sign_up,
)

MAX_SLOW = 2


class HeldSleep:
    """Stands in for the api module's `time`: each sleep waits until the test lets go."""

    def __init__(self) -> None:
        self.sleeping = threading.Semaphore(0)
        self.wake = threading.Event()

    def sleep(self, seconds: float) -> None:
        self.sleeping.release()
        assert self.wake.wait(timeout=30)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = dataclasses.replace(FAST_SETTINGS, max_slow_requests=MAX_SLOW)
    with running_site(tmp_path / "app.db", settings=settings) as running:
        yield running


def test_anonymous_slow_call_is_401_json(site: Site) -> None:
    with new_client(site) as anonymous:
        answer = anonymous.get("/api/slow", params={"seconds": "10"})
    assert answer.status_code == 401
    assert answer.json() == {"ok": False, "error": "not_signed_in"}


def test_slow_calls_beyond_the_bound_get_503_with_retry_after(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldSleep()
    monkeypatch.setattr(api_module, "time", held)  # this module's name only
    with new_client(site) as client:
        token = session_cookie_in(sign_up(client, "snail"))
    results: list[httpx.Response] = []

    def call_slow() -> None:
        with new_client(site, cookies={"session": token}) as caller:
            results.append(caller.get("/api/slow", params={"seconds": "5"}))

    sleepers = [threading.Thread(target=call_slow) for _ in range(MAX_SLOW)]
    for sleeper in sleepers:
        sleeper.start()
    for _ in range(MAX_SLOW):
        assert held.sleeping.acquire(timeout=30)  # every slot is taken now
    with new_client(site, cookies={"session": token}) as late:
        refused = late.get("/api/slow", params={"seconds": "1"})
        assert refused.status_code == 503
        assert refused.json() == {"ok": False, "error": "too_many_slow_requests"}
        assert refused.headers["retry-after"] == "10"
        assert late.get("/api/usage").status_code == 200  # other calls still answered
        held.wake.set()
        for sleeper in sleepers:
            sleeper.join(timeout=30)
        assert [result.status_code for result in results] == [200] * MAX_SLOW
        assert late.get("/api/slow", params={"seconds": "1"}).status_code == 200  # slots back


def test_encoded_slash_does_not_reach_the_api(site: Site) -> None:
    """A proxy filtering "/api/" on the raw path must not be bypassed by "/api%2Fusage"."""
    with new_client(site) as client:
        token = session_cookie_in(sign_up(client, "percy"))
    for target in ("/api%2Fusage", "/api%2fusage", "/api%2Fslow?seconds=0"):
        with socket.create_connection(("127.0.0.1", site.server.addresses[0][1])) as sock:
            sock.sendall(
                f"GET {target} HTTP/1.1\r\nHost: t\r\nCookie: session={token}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            answer = b""
            while chunk := sock.recv(65_536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 404 "), (target, answer[:200])
