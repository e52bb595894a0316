"""`barehttp app` against floods: simultaneous guesses across workers, a sign-up flood's memory."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.integration.accounts_site import PASSWORD, TIMEOUT_S, sign_in, sign_up
from tests.integration.conftest import ServerProcess, SpawnServer

GUESSES = 64
FLOOD_SIGN_UPS = 320
FLOOD_ADDRESSES = 32  # 10 sign-ups each: the per-address throttle lets every one through
FLOOD_CONCURRENCY = 64
MAX_RSS_GROWTH_BYTES = 256 * 1_048_576
# Any token of the accepted shape works for the double-submit check: cookie == field.
CSRF_TOKEN = "flood-" + "x" * 40


def start_app(spawn_server: SpawnServer, db: Path, *options: str) -> ServerProcess:
    return spawn_server(
        "-m", "barehttp.cli", "app", "--port", "{port}", "--db", str(db), "--no-access-log",
        *options,
    )  # fmt: skip


def post_form(server: ServerProcess, path: str, data: dict[str, str], address: str) -> int:
    """One form POST on a fresh connection from `address`; its status."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(
        base_url=server.url, transport=transport, cookies={"csrf": CSRF_TOKEN}, timeout=60
    ) as client:
        return client.post(path, data={"csrf_token": CSRF_TOKEN, **data}).status_code


def test_simultaneous_guesses_across_workers_evaluate_five(
    spawn_server: SpawnServer, tmp_path: Path
) -> None:
    server = start_app(spawn_server, tmp_path / "app.db", "--workers", "2")
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        assert sign_up(client, "victim").status_code == 303
    start = threading.Barrier(GUESSES, timeout=TIMEOUT_S)

    def guess(_: int) -> int:
        start.wait()
        wrong = {"username": "victim", "password": "wr0ng!pass"}
        return post_form(server, "/signin", wrong, "127.0.0.5")

    with ThreadPoolExecutor(GUESSES) as executor:
        statuses = list(executor.map(guess, range(GUESSES)))
    assert statuses.count(422) == 5, statuses  # evaluated and wrong
    assert statuses.count(429) == GUESSES - 5, statuses  # refused before any hashing
    right = {"username": "victim", "password": PASSWORD}
    assert post_form(server, "/signin", right, "127.0.0.5") == 429  # sent last: still locked
    with httpx.Client(
        base_url=server.url,
        transport=httpx.HTTPTransport(local_address="127.0.0.6"),
        timeout=TIMEOUT_S,
    ) as victim:
        assert sign_in(victim, "victim").status_code == 303  # the victim is not locked out


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_sign_up_flood_stays_within_the_memory_bound(
    spawn_server: SpawnServer, tmp_path: Path
) -> None:
    server = start_app(spawn_server, tmp_path / "app.db")  # default scrypt: 16 MiB a hash
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        assert sign_up(client, "first").status_code == 303  # warm: imports, first hash
    # Without the hashing pool every handler thread hashes at once: measured +1,273 MiB.
    rss_before = memory_kib(server.process.pid, "VmRSS") * 1024

    def flood(index: int) -> int:
        account = {"username": f"flood{index}", "email": "f@example.com", "password": PASSWORD}
        return post_form(server, "/signup", account, f"127.0.1.{index % FLOOD_ADDRESSES + 1}")

    with ThreadPoolExecutor(FLOOD_CONCURRENCY) as executor:
        statuses = list(executor.map(flood, range(FLOOD_SIGN_UPS)))
    peak = memory_kib(server.process.pid, "VmHWM") * 1024  # the highest RSS ever reached
    # 303: created; 503: hashing stayed busy for password_hashing_wait_s (a loaded machine).
    assert set(statuses) <= {303, 503}, statuses
    assert statuses.count(303) >= FLOOD_ADDRESSES  # measured: about half, with 3 hashing threads
    assert peak - rss_before <= MAX_RSS_GROWTH_BYTES, (peak - rss_before) / 1_048_576
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        assert client.get("/").status_code == 200
