"""Two `barehttp app` processes on one PostgreSQL: shared sessions, quota, lockout, outages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from barehttp.app.settings import AccountSettings
from barehttp.storage.postgres_migrations import POSTGRES_MIGRATIONS
from tests.integration.accounts_site import (
    TIMEOUT_S,
    session_cookie_in,
    sign_in,
    sign_out,
    sign_up,
    spend,
)
from tests.integration.conftest import ServerProcess, SpawnServer
from tests.pgcluster import PostgresCluster

SPENDS = 200
CREDITS = 100
MAX_FAILED = AccountSettings().max_failed_sign_ins
RECOVERY_TIMEOUT_S = 30.0


@dataclass
class Pair:
    first: ServerProcess
    second: ServerProcess

    def client(self, server: ServerProcess, token: str | None = None) -> httpx.Client:
        cookies = {"session": token} if token else None
        return httpx.Client(base_url=server.url, timeout=TIMEOUT_S, cookies=cookies)


@pytest.fixture
def pair(spawn_server: SpawnServer, postgres_url: str) -> Iterator[Pair]:
    """Two instances started together on one fresh database (both migrate-check at once)."""
    options = ("app", "--port", "{port}", "--db", postgres_url, "--no-access-log")
    arguments = ("-m", "barehttp.cli", *options, "--threads", "16", "--db-pool", "8")
    first = spawn_server(*arguments, wait=False)
    second = spawn_server(*arguments, wait=False)
    for server in (first, second):
        server.wait_until_listening(timeout=30)
        # The socket is bound before the database is opened and migrated: the first
        # answer comes once the app is ready.
        httpx.get(server.url + "/", timeout=30).raise_for_status()
    yield Pair(first, second)


def schema_versions(url: str) -> list[int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    return [int(row[0]) for row in rows]


def test_instances_started_together_migrate_once(pair: Pair, postgres_url: str) -> None:
    assert schema_versions(postgres_url) == [m.version for m in POSTGRES_MIGRATIONS]
    logs = pair.first.stderr + pair.second.stderr
    assert logs.count("to schema version 1:") == 1


def test_session_made_on_one_works_on_the_other(pair: Pair) -> None:
    with pair.client(pair.first) as client:
        token = session_cookie_in(sign_up(client, "sam"))
    with pair.client(pair.second, token) as other:
        assert other.get("/api/usage").json()["used"] == 0
        assert spend(other, 3).status_code == 200
    with pair.client(pair.first, token) as client:
        assert client.get("/api/usage").json()["used"] == 3
        sign_out(client)  # signing out on one ends the session everywhere
    with pair.client(pair.second, token) as other:
        assert other.get("/api/usage").status_code == 401


def test_concurrent_spends_over_both_never_overspend(pair: Pair) -> None:
    with pair.client(pair.first) as client:
        token = session_cookie_in(sign_up(client, "quinn"))
    clients = [pair.client(pair.first, token), pair.client(pair.second, token)]

    def one_spend(index: int) -> int:
        return spend(clients[index % 2], 1).status_code  # httpx clients are thread-safe

    with ThreadPoolExecutor(max_workers=32) as executor:
        statuses = list(executor.map(one_spend, range(SPENDS)))
    for client in clients:
        client.close()
    assert statuses.count(200) == CREDITS
    assert statuses.count(402) == SPENDS - CREDITS
    with pair.client(pair.second, token) as other:
        assert other.get("/api/usage").json()["used"] == CREDITS


def test_lockout_is_counted_across_both(pair: Pair) -> None:
    with pair.client(pair.first) as client:
        sign_up(client, "lena")
    statuses: list[int] = []
    for attempt in range(MAX_FAILED + 1):
        server = pair.first if attempt % 2 == 0 else pair.second
        with pair.client(server) as client:
            statuses.append(sign_in(client, "lena", password="wrong-password!").status_code)
    assert 429 not in statuses[:MAX_FAILED]
    assert statuses[MAX_FAILED] == 429  # the failures on both instances added up
    with pair.client(pair.second) as client:
        assert sign_in(client, "lena").status_code == 429  # even the right password


def test_database_down_gives_503_then_recovers(
    pair: Pair, postgres_cluster: PostgresCluster
) -> None:
    with pair.client(pair.first) as client:
        token = session_cookie_in(sign_up(client, "otto"))
    postgres_cluster.stop()
    try:
        for server in (pair.first, pair.second):
            with pair.client(server, token) as client:
                started = time.monotonic()
                down = client.get("/api/usage")
                assert time.monotonic() - started < TIMEOUT_S  # bounded by the pool timeout
                assert down.status_code == 503
                assert down.headers["retry-after"] == "5"
                assert down.json()["error"] == "unavailable" and "message" in down.json()
                page = client.get("/")  # a signed-in page needs the session: 503 too
                assert page.status_code == 503 and "retry-after" in page.headers
            with pair.client(server) as visitor:  # what needs no database keeps working
                assert visitor.get("/faq").status_code == 200
                assert visitor.get("/static/style.css").status_code == 200
    finally:
        postgres_cluster.start()
    for server in (pair.first, pair.second):
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        with pair.client(server, token) as client:
            while (status := client.get("/api/usage").status_code) == 503:
                assert time.monotonic() < deadline, "no recovery without a restart"
                time.sleep(0.1)
            assert status == 200
            assert spend(client, 1).status_code == 200
