"""Three instances behind nginx on one PostgreSQL: kill -9 of one during a load of spends."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from barehttp.storage.postgres import PostgresStorage
from tests.integration.accounts_site import TIMEOUT_S, session_cookie_in, sign_up
from tests.integration.conftest import ServerProcess, SpawnServer, free_port
from tests.nginx import NginxBalancer

SPENDS = 300
KILL_AFTER = 60  # successes before one instance is killed
CREDITS = 1_000  # more than SPENDS: every refusal would be a bug


@pytest.fixture
def balanced(
    spawn_server: SpawnServer, postgres_url: str
) -> Iterator[tuple[NginxBalancer, list[ServerProcess]]]:
    arguments = ("-m", "barehttp.cli", "app", "--port", "{port}", "--db", postgres_url)
    options = ("--no-access-log", "--db-pool", "6", "--default-credits", str(CREDITS))
    instances = [spawn_server(*arguments, *options, wait=False) for _ in range(3)]
    for instance in instances:
        instance.wait_until_listening(timeout=30)
    balancer = NginxBalancer(free_port(), [instance.port for instance in instances])
    balancer.start()
    yield balancer, instances
    balancer.stop()


def test_kill_9_of_one_instance_loses_and_doubles_no_spend(
    balanced: tuple[NginxBalancer, list[ServerProcess]], postgres_url: str
) -> None:
    balancer, instances = balanced
    base = f"http://127.0.0.1:{balancer.port}"
    with httpx.Client(base_url=base, timeout=TIMEOUT_S) as client:
        response = sign_up(client, "kira")
        token = session_cookie_in(response)
    client = httpx.Client(base_url=base, timeout=TIMEOUT_S, cookies={"session": token})
    successes = threading.Semaphore(0)
    killed = threading.Event()

    def killer() -> None:
        for _ in range(KILL_AFTER):
            successes.acquire(timeout=60)
        instances[1].process.send_signal(signal.SIGKILL)
        instances[1].process.wait(timeout=10)
        killed.set()

    def one_spend(_: int) -> str:
        try:
            status = client.post("/api/requests", json={"cost": 1}).status_code
        except httpx.HTTPError:
            return "unknown"
        if status == 200:
            successes.release()
            return "spent"
        return "unknown" if status >= 500 else f"refused {status}"

    watcher = threading.Thread(target=killer)
    watcher.start()
    with ThreadPoolExecutor(max_workers=12) as executor:
        outcomes = list(executor.map(one_spend, range(SPENDS)))
    watcher.join(timeout=60)
    assert killed.is_set(), "the load ended before the kill"
    after = [client.post("/api/requests", json={"cost": 1}).status_code for _ in range(20)]
    client.close()

    spent, unknown = outcomes.count("spent") + after.count(200), outcomes.count("unknown")
    assert [outcome for outcome in outcomes if outcome.startswith("refused")] == []
    assert after == [200] * 20  # the two others keep serving through nginx
    with PostgresStorage(postgres_url) as storage:
        user = storage.find_user("kira")
    assert user is not None
    # Each spend answered 200 is stored exactly once; only an unanswered one may be in doubt.
    assert spent <= user.credits_used <= spent + unknown
