"""The quota under concurrency: 200 simultaneous spends against 50 remaining credits."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from barehttp.app.admin import set_limit
from barehttp.protocol.limits import Limits
from tests.integration.accounts_site import (
    TIMEOUT_S,
    new_client,
    running_site,
    session_cookie_in,
    sign_up,
    spend,
)

CONCURRENT_REQUESTS = 200
REMAINING = 50
ALREADY_USED = 7


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_exactly_the_remaining_credits_are_spent(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    limits = Limits(worker_threads=64)
    with running_site(tmp_path / "app.db", limits=limits, postgres_url=url) as site:
        with new_client(site) as client:
            token = session_cookie_in(sign_up(client, "rush"))
            assert spend(client, ALREADY_USED).status_code == 200
        set_limit(site.storage, "rush", ALREADY_USED + REMAINING)  # the admin action

        start = threading.Barrier(CONCURRENT_REQUESTS, timeout=TIMEOUT_S)
        pool = httpx.Limits(max_connections=CONCURRENT_REQUESTS)
        with httpx.Client(
            base_url=site.url, cookies={"session": token}, limits=pool, timeout=30.0
        ) as shared:

            def one_spend(_: int) -> httpx.Response:
                start.wait()  # all 200 leave together
                return shared.post("/api/requests", json={})

            with ThreadPoolExecutor(CONCURRENT_REQUESTS) as executor:
                answers = list(executor.map(one_spend, range(CONCURRENT_REQUESTS)))

        statuses = sorted(answer.status_code for answer in answers)
        assert statuses.count(200) == REMAINING
        assert statuses.count(402) == CONCURRENT_REQUESTS - REMAINING
        # Every successful spend saw a distinct counter value: none was counted twice.
        used_values = sorted(a.json()["used"] for a in answers if a.status_code == 200)
        assert used_values == list(range(ALREADY_USED + 1, ALREADY_USED + REMAINING + 1))
        for refused in (a.json() for a in answers if a.status_code == 402):
            assert refused["error"] == "quota_exceeded"
        user = site.storage.find_user("rush")
        assert user is not None and user.credits_used == ALREADY_USED + REMAINING
