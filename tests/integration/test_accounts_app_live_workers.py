"""Live credits across processes: `barehttp app --workers 2` and two instances on PostgreSQL.

A page is held by one worker process; a spend served by the other process reaches
it only through the poll. Which process served a connection is read from /proc:
the server side of the connection is a socket inode, and one worker holds it.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.integration.accounts_site import TIMEOUT_S, session_cookie_in, sign_up, spend
from tests.integration.conftest import ServerProcess, SpawnServer

MAX_SPENDS = 40  # fresh connections; each lands on either worker
SPENDS_ELSEWHERE = 3  # served by the worker that does not hold the page


def open_page(server: ServerProcess, token: str) -> ClientConnection:
    return connect(
        server.url.replace("http://", "ws://") + "/ws/credits",
        additional_headers={"Cookie": f"session={token}"},
        origin=Origin(server.url),
        open_timeout=TIMEOUT_S,
    )


def next_used(page: ClientConnection) -> int:
    data = page.recv(TIMEOUT_S)
    assert isinstance(data, str)
    used: int = json.loads(data)["used"]
    return used


def wait_for_used(page: ClientConnection, used: int) -> None:
    """Read the page's messages until one says `used` (none may say more)."""
    while (seen := next_used(page)) != used:
        assert seen < used, f"page shows {seen} used, past {used}"


def serving_process(pids: set[int], server_port: int, client_port: int) -> int:
    """The process holding the server side of 127.0.0.1:client_port -> server_port."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        remote_port = int(fields[2].split(":")[1], 16)
        if (local_port, remote_port) == (server_port, client_port):
            inode = fields[9]
    assert inode is not None, f"no connection from port {client_port}"
    target = f"socket:[{inode}]"
    for pid in pids:
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(descriptor) == target:
                    return pid
            except OSError:
                continue  # closed meanwhile
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def test_spends_on_either_worker_reach_a_page_held_by_one(
    spawn_server: SpawnServer, tmp_path: Path
) -> None:
    server = spawn_server(
        "-m", "barehttp.cli", "app", "--port", "{port}", "--db", str(tmp_path / "app.db"),
        "--workers", "2", "--no-access-log", "--live-credits-poll", "0.1",
    )  # fmt: skip
    workers = server.wait_for_workers(2)  # forked after the bind
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        token = session_cookie_in(sign_up(client, "ivy"))
    with open_page(server, token) as page:
        assert next_used(page) == 0
        page_worker = serving_process(workers, server.port, page.socket.getsockname()[1])
        served_elsewhere = 0
        for _ in range(MAX_SPENDS):
            # A fresh connection per spend: the kernel picks the worker.
            with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as one:
                one.cookies.set("session", token)
                response = spend(one)
                assert response.status_code == 200
                client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
                served_by = serving_process(workers, server.port, client_port)
            wait_for_used(page, response.json()["used"])
            served_elsewhere += served_by != page_worker
            if served_elsewhere == SPENDS_ELSEWHERE:
                break
        assert served_elsewhere == SPENDS_ELSEWHERE, "the other worker served too few spends"
    server.signal(signal.SIGTERM)
    assert server.wait() == 0


@pytest.fixture
def pair(spawn_server: SpawnServer, postgres_url: str) -> tuple[ServerProcess, ServerProcess]:
    """Two instances on one fresh PostgreSQL database."""
    arguments = (
        "-m", "barehttp.cli", "app", "--port", "{port}", "--db", postgres_url,
        "--no-access-log", "--db-pool", "4", "--live-credits-poll", "0.1",
    )  # fmt: skip
    first = spawn_server(*arguments, wait=False)
    second = spawn_server(*arguments, wait=False)
    for server in (first, second):
        server.wait_until_listening(timeout=30)
        httpx.get(server.url + "/", timeout=30).raise_for_status()  # migrated and ready
    return first, second


def test_two_instances_on_postgres_share_live_pages(
    pair: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = pair
    with httpx.Client(base_url=second.url, timeout=TIMEOUT_S) as other:
        token = session_cookie_in(sign_up(other, "jules"))
        with open_page(first, token) as page:
            assert next_used(page) == 0
            for cost in (2, 3):
                response = spend(other, cost)  # on the other instance
                assert response.status_code == 200
                assert next_used(page) == response.json()["used"]
            # Signing out on the other instance ends the page here too.
            assert other.post("/api/signout", json={}).json()["signed_out"] is True
            with pytest.raises(ConnectionClosed) as closed:
                page.recv(TIMEOUT_S)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
