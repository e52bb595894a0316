"""`barehttp app` and `barehttp users` as real processes: restarts, kill -9, admin, curl docs."""

from __future__ import annotations

import html
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from barehttp.app.accounts import make_accounts
from barehttp.storage.sqlite import SQLiteStorage
from tests.integration.accounts_site import (
    FAST_SETTINGS,
    PASSWORD,
    TIMEOUT_S,
    running_site,
    session_cookie_in,
    sign_up,
    spend,
)
from tests.integration.conftest import EXIT_TIMEOUT_S, ServerProcess, SpawnServer

BAREHTTP = str(Path(sys.executable).parent / "barehttp")


# The worker path builds the app in each child, so options must reach it there too.
PROCESS_MODES = pytest.mark.parametrize(
    "workers", [(), ("--workers", "2")], ids=["one-process", "two-workers"]
)


def start_app(spawn_server: SpawnServer, db: Path, *options: str) -> ServerProcess:
    return spawn_server(
        "-m", "barehttp.cli", "app", "--port", "{port}", "--db", str(db), "--no-access-log",
        *options,
    )  # fmt: skip


def usage_with(server: ServerProcess, token: str) -> httpx.Response:
    return httpx.get(server.url + "/api/usage", cookies={"session": token}, timeout=TIMEOUT_S)


def test_session_survives_restart_and_kill_9(spawn_server: SpawnServer, tmp_path: Path) -> None:
    db = tmp_path / "barehttp.db"
    first = start_app(spawn_server, db)
    with httpx.Client(base_url=first.url, timeout=TIMEOUT_S) as client:
        token = session_cookie_in(sign_up(client, "rita"))
        assert spend(client, 2).json()["used"] == 2

    first.signal(signal.SIGTERM)  # a clean restart: drains, closes storage, exits 0
    assert first.wait() == 0
    second = start_app(spawn_server, db)
    assert usage_with(second, token).json() == {
        "ok": True,
        "used": 2,
        "limit": 100,
        "remaining": 98,
    }
    spent = httpx.post(
        second.url + "/api/requests",
        json={"cost": 3},
        cookies={"session": token},
        timeout=TIMEOUT_S,
    )
    assert spent.json()["used"] == 5

    second.process.kill()  # SIGKILL: no shutdown hooks, no checkpoint
    assert second.wait() == -signal.SIGKILL
    third = start_app(spawn_server, db)
    assert usage_with(third, token).json()["used"] == 5  # the committed spend survived
    home = httpx.get(third.url + "/", cookies={"session": token}, timeout=TIMEOUT_S)
    assert "Hello, rita!" in home.text


def run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BAREHTTP, *arguments], capture_output=True, text=True, timeout=EXIT_TIMEOUT_S, check=False
    )


@pytest.fixture
def db_with_users(tmp_path: Path) -> Path:
    db = tmp_path / "users.db"
    with SQLiteStorage(db) as storage:
        accounts = make_accounts(storage, FAST_SETTINGS)
        accounts.sign_up("Alice", "alice@example.com", PASSWORD, "192.0.2.1")
        bob = accounts.sign_up("bob", "bob@example.com", PASSWORD, "192.0.2.1")
        accounts.quota.spend(bob.id, 7)
    return db


def test_users_list(db_with_users: Path) -> None:
    result = run_cli("users", "list", "--db", str(db_with_users))
    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines == [
        ["ID", "USERNAME", "EMAIL", "USED", "LIMIT"],
        ["1", "Alice", "alice@example.com", "0", "100"],
        ["2", "bob", "bob@example.com", "7", "100"],
    ]


def test_users_set_limit(db_with_users: Path) -> None:
    result = run_cli("users", "set-limit", "ALICE", "500", "--db", str(db_with_users))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Alice: limit 500, used 0\n"
    listed = run_cli("users", "list", "--db", str(db_with_users)).stdout
    assert listed.splitlines()[1].split() == ["1", "Alice", "alice@example.com", "0", "500"]


@pytest.mark.parametrize(
    ("arguments", "returncode", "message"),
    [
        (("set-limit", "nobody", "5"), 1, "no such user: nobody"),
        (("set-limit", "bob", "lots"), 2, "limit must be a whole number from 0 to 1000000000"),
        (("set-limit", "bob", "-1"), 2, "limit must be a whole number"),
        (("set-limit", "bob", "1000000001"), 2, "limit must be a whole number"),
    ],
    ids=["unknown-user", "not-a-number", "negative", "too-large"],
)
def test_users_errors_are_readable(
    db_with_users: Path, arguments: tuple[str, ...], returncode: int, message: str
) -> None:
    result = run_cli("users", *arguments, "--db", str(db_with_users))
    assert result.returncode == returncode
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_users_list_refuses_a_missing_database(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = run_cli("users", "list", "--db", str(missing))
    assert result.returncode == 1
    assert "no database at" in result.stderr
    assert not missing.exists()  # an administration typo must not create an empty database


def test_app_help_lists_its_options() -> None:
    result = run_cli("app", "--help")
    assert result.returncode == 0
    for option in ("--db", "--host", "--port", "--threads", "--certfile", "--keyfile"):
        assert option in result.stdout
    assert "8080" in result.stdout
    help_text = " ".join(result.stdout.split())  # argparse wraps lines
    assert "--session-lifetime SECONDS" in help_text
    assert "(default 43200 = 12 h)" in help_text
    assert "--default-credits N" in help_text
    assert "(default 100)" in help_text
    assert "--live-credits-poll SECONDS" in help_text
    assert "this often (default 1)" in help_text


@PROCESS_MODES
def test_default_credits_option_sets_new_accounts_limit(
    spawn_server: SpawnServer, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    server = start_app(spawn_server, tmp_path / "app.db", "--default-credits", "3", *workers)
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        token = session_cookie_in(sign_up(client, "tight"))
    assert usage_with(server, token).json() == {"ok": True, "used": 0, "limit": 3, "remaining": 3}


@PROCESS_MODES
def test_session_lifetime_option_ends_sessions(
    spawn_server: SpawnServer, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    # Long enough that a loaded machine still makes the first call inside it.
    lifetime_s = 3
    server = start_app(
        spawn_server, tmp_path / "app.db", "--session-lifetime", str(lifetime_s), *workers
    )
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        signed_up = sign_up(client, "brief")
    signed_up_at = time.monotonic()  # the session was created before this
    token = session_cookie_in(signed_up)
    assert f"Max-Age={lifetime_s};" in signed_up.headers["set-cookie"]
    # Sent by hand, not from the jar: the jar drops it after Max-Age, the server must too.
    assert usage_with(server, token).status_code == 200
    time.sleep(max(0.0, signed_up_at + lifetime_s + 0.5 - time.monotonic()))
    expired = usage_with(server, token)
    assert expired.status_code == 401
    assert expired.json()["error"] == "not_signed_in"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--session-lifetime", "0"), "--session-lifetime: must be a finite number of seconds"),
        (("--session-lifetime", "-5"), "--session-lifetime: must be a finite number of seconds"),
        (("--session-lifetime", "0.5"), "--session-lifetime: must be a finite number of seconds"),
        (("--session-lifetime", "inf"), "--session-lifetime: must be a finite number of seconds"),
        (("--session-lifetime", "soon"), "--session-lifetime: not a number of seconds: 'soon'"),
        (("--default-credits", "-1"), "--default-credits: must be a whole number from 0 to"),
        (("--default-credits", "2.5"), "--default-credits: must be a whole number from 0 to"),
        (("--default-credits", "many"), "--default-credits: must be a whole number from 0 to"),
        (("--default-credits", "1000000001"), "--default-credits: must be a whole number"),
        (("--live-credits-poll", "0"), "--live-credits-poll: must be a finite number of seconds"),
        (("--live-credits-poll", "nan"), "--live-credits-poll: must be a finite number of seconds"),
        (("--live-credits-poll", "often"), "--live-credits-poll: not a number of seconds"),
    ],
    ids=[
        "lifetime-zero",
        "lifetime-negative",
        "lifetime-below-a-second",
        "lifetime-infinite",
        "lifetime-not-a-number",
        "credits-negative",
        "credits-fraction",
        "credits-not-a-number",
        "credits-too-large",
        "poll-zero",
        "poll-not-finite",
        "poll-not-a-number",
    ],
)
def test_app_option_errors_exit_2(tmp_path: Path, arguments: tuple[str, ...], message: str) -> None:
    db = tmp_path / "app.db"
    result = run_cli("app", *arguments, "--db", str(db), "--port", "0")
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not db.exists()  # refused before opening storage or binding


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is installed by make system-deps")
def test_the_curl_examples_in_the_docs_work(tmp_path: Path) -> None:
    """Run every shell line of /docs, as a reader would paste them, against a live server."""
    with running_site(tmp_path / "app.db") as site:
        page = httpx.get(site.url + "/docs", timeout=TIMEOUT_S).text
        blocks = [
            html.unescape(b) for b in re.findall(r"<pre><code>(.*?)</code></pre>", page, re.S)
        ]
        script = "set -eu\n" + "\necho\n".join(blocks) + "\n"
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[:2] == ["303", "303"]  # signed up, then signed in
        assert '{"ok":true,"used":5,"limit":100,"remaining":95}' in lines
        assert lines.count('{"ok":true,"used":5,"limit":100,"remaining":95}') == 2  # + usage
        assert '{"ok":true,"slept":2.0}' in lines
        assert lines[-1] == '{"ok":true,"signed_out":true}'
        assert site.storage.find_user("alice").credits_used == 5  # type: ignore[union-attr]


@PROCESS_MODES
def test_websocket_options_reach_the_live_credits_page(
    spawn_server: SpawnServer, tmp_path: Path, workers: tuple[str, ...]
) -> None:
    from websockets.exceptions import ConnectionClosedError
    from websockets.sync.client import connect
    from websockets.typing import Origin

    server = start_app(spawn_server, tmp_path / "barehttp.db", "--ws-max-message", "200", *workers)
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        token = session_cookie_in(sign_up(client, "wanda"))
    url = server.url.replace("http://", "ws://") + "/ws/credits"
    with connect(
        url,
        additional_headers={"Cookie": f"session={token}"},
        origin=Origin(server.url),
        open_timeout=TIMEOUT_S,
        compression=None,  # the bound is on bytes as sent
    ) as websocket:
        assert '"used": 0' in str(websocket.recv(TIMEOUT_S))
        websocket.send("x" * 300)  # over --ws-max-message, under the 1 MiB default
        with pytest.raises(ConnectionClosedError) as closed:
            websocket.recv(TIMEOUT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
