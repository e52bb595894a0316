"""`--db` and BAREHTTP_DB with a PostgreSQL URL: users commands, app start-up, secrets kept."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import httpx
import pytest
import requests

from barehttp.storage.postgres import PostgresStorage
from barehttp.storage.sqlite import SQLiteStorage
from tests.integration.accounts_site import TIMEOUT_S, session_cookie_in, sign_up
from tests.integration.conftest import EXIT_TIMEOUT_S, SpawnServer
from tests.pgcluster import PASSWORD, PostgresCluster
from tests.storage.test_storage import add_user

SCRIPT = pathlib.Path(sys.executable).parent / "barehttp"
SECRET = "Not-The-Real-Pw-42"
# Runs the command line with psycopg made impossible to import, as without the extra.
WITHOUT_PSYCOPG = (
    "import sys\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('psycopg', 'psycopg_pool'):\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, Block())\n"
    "from barehttp.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def run(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(SCRIPT), *arguments],
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT_S * 3,
        check=False,
        env=full_env,
    )


def test_users_list_and_set_limit_on_postgres(postgres_url: str) -> None:
    with PostgresStorage(postgres_url) as storage:
        add_user(storage, "Alice", credits_limit=7)
    listed = run("users", "list", "--db", postgres_url)
    assert listed.returncode == 0, listed.stderr
    assert "Alice" in listed.stdout and "7" in listed.stdout
    changed = run("users", "set-limit", "alice", "12", "--db", postgres_url)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout == "Alice: limit 12, used 0\n"


def test_barehttp_db_environment_variable(postgres_url: str, tmp_path: pathlib.Path) -> None:
    with PostgresStorage(postgres_url) as storage:
        add_user(storage, "fromenv")
    listed = run("users", "list", env={"BAREHTTP_DB": postgres_url})
    assert listed.returncode == 0, listed.stderr
    assert "fromenv" in listed.stdout
    # --db wins over the variable.
    sqlite_path = tmp_path / "local.db"
    with SQLiteStorage(sqlite_path) as storage:
        add_user(storage, "fromfile")
    listed = run("users", "list", "--db", str(sqlite_path), env={"BAREHTTP_DB": postgres_url})
    assert "fromfile" in listed.stdout and "fromenv" not in listed.stdout


def test_password_from_pgpassword(
    postgres_cluster: PostgresCluster, postgres_database: str
) -> None:
    url = postgres_cluster.tcp_url(postgres_database, password=None)
    listed = run("users", "list", "--db", url, env={"PGPASSWORD": PASSWORD})
    assert listed.returncode == 0, listed.stderr
    assert "(no users)" in listed.stdout


def test_wrong_password_is_one_line_without_the_password(
    postgres_cluster: PostgresCluster, postgres_database: str
) -> None:
    url = postgres_cluster.tcp_url(postgres_database, password=SECRET)
    result = run("users", "list", "--db", url)
    assert result.returncode == 1
    assert SECRET not in result.stderr + result.stdout
    assert result.stderr.count("\n") == 1 and "password authentication failed" in result.stderr
    assert "***" in result.stderr


def test_app_start_failure_hides_the_password(
    postgres_cluster: PostgresCluster, postgres_database: str
) -> None:
    url = postgres_cluster.tcp_url(postgres_database, password=SECRET)
    result = run("app", "--port", "0", "--db", url)
    assert result.returncode == 1
    assert SECRET not in result.stderr
    assert "cannot open database postgresql://postgres:***@127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr


def test_help_never_shows_the_environment_url() -> None:
    env = {"BAREHTTP_DB": f"postgresql://someone:{SECRET}@db.invalid/app"}
    for command in (["app", "--help"], ["users", "list", "--help"]):
        result = run(*command, env=env)
        assert result.returncode == 0
        assert SECRET not in result.stdout and "postgresql://" in result.stdout


@pytest.mark.parametrize("command", [["users", "list"], ["app", "--port", "0"]], ids=str)
def test_missing_driver_is_a_one_line_error(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_PSYCOPG, *command, "--db", "postgresql://u@/db?host=/x"],
        capture_output=True,
        text=True,
        timeout=EXIT_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 1
    assert "pip install 'barehttp[postgres]'" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def test_app_serves_from_postgres(spawn_server: SpawnServer, postgres_url: str) -> None:
    server = spawn_server("-m", "barehttp.cli", "app", "--port", "{port}", "--db", postgres_url)
    response = requests.get(f"{server.url}/signup", timeout=10)
    assert response.status_code == 200
    with PostgresStorage(postgres_url) as storage:
        assert storage.list_users() == []  # migrated, empty, reachable


def test_app_workers_share_postgres(spawn_server: SpawnServer, postgres_url: str) -> None:
    server = spawn_server(
        "-m", "barehttp.cli", "app", "--port", "{port}", "--db", postgres_url,
        "--workers", "2", "--db-pool", "2", "--no-access-log",
    )  # fmt: skip
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        token = session_cookie_in(sign_up(client, "wanda"))
    # Fresh connections land on either worker; each must see the one session.
    for _ in range(6):
        with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
            client.cookies.set("session", token)
            assert client.post("/api/requests", json={"cost": 1}).status_code == 200
    with PostgresStorage(postgres_url) as storage:
        user = storage.find_user("wanda")
    assert user is not None and user.credits_used == 6
