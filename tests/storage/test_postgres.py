"""PostgresStorage only: migrations under a lock, pool bounds, outages, passwords, libpq defaults.

The Storage contract itself runs on PostgreSQL in test_storage and test_attempts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import psycopg
import pytest

from barehttp.storage.base import (
    AttemptCounter,
    FailureScope,
    SchemaTooNew,
    StorageError,
    StorageUnavailable,
)
from barehttp.storage.migrations import Migration
from barehttp.storage.postgres import PostgresStorage
from barehttp.storage.postgres_migrations import POSTGRES_MIGRATIONS
from barehttp.storage.postgres_pool import PoolSettings
from tests.pgcluster import PASSWORD, PostgresCluster
from tests.storage.test_storage import add_user, make_session

EXTRA = Migration(len(POSTGRES_MIGRATIONS) + 1, "add notes", ("CREATE TABLE notes (body TEXT)",))
QUICK = PoolSettings(acquire_timeout_s=1.0, connect_timeout_s=2, reconnect_timeout_s=2.0)


def recorded_versions(url: str) -> list[int]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    return [int(row[0]) for row in rows]


def table_names(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {str(row[0]) for row in rows.fetchall()}


# Migrations.


def test_fresh_database_gets_every_migration(postgres_url: str) -> None:
    PostgresStorage(postgres_url).close()
    assert recorded_versions(postgres_url) == [m.version for m in POSTGRES_MIGRATIONS]
    assert {"users", "sessions", "login_failures", "schema_version"} <= table_names(postgres_url)


def test_reopening_applies_nothing_twice(postgres_url: str) -> None:
    first = PostgresStorage(postgres_url)
    add_user(first)
    first.close()
    second = PostgresStorage(postgres_url)  # would fail on CREATE TABLE users if re-run
    assert [user.username for user in second.list_users()] == ["alice"]
    second.close()
    assert recorded_versions(postgres_url) == [m.version for m in POSTGRES_MIGRATIONS]


def test_pending_migration_applied_on_open(postgres_url: str) -> None:
    PostgresStorage(postgres_url).close()
    PostgresStorage(postgres_url, migrations=(*POSTGRES_MIGRATIONS, EXTRA)).close()
    assert recorded_versions(postgres_url)[-1] == EXTRA.version
    assert "notes" in table_names(postgres_url)


def test_failed_migration_rolls_back_entirely(postgres_url: str) -> None:
    PostgresStorage(postgres_url).close()
    broken = Migration(EXTRA.version, "broken", ("CREATE TABLE half (x INT)", "NOT SQL AT ALL"))
    with pytest.raises(StorageError):
        PostgresStorage(postgres_url, migrations=(*POSTGRES_MIGRATIONS, broken))
    assert recorded_versions(postgres_url) == [m.version for m in POSTGRES_MIGRATIONS]
    assert "half" not in table_names(postgres_url)


def test_refuses_database_from_newer_code(postgres_url: str) -> None:
    PostgresStorage(postgres_url, migrations=(*POSTGRES_MIGRATIONS, EXTRA)).close()
    with pytest.raises(SchemaTooNew):
        PostgresStorage(postgres_url)


def test_ten_instances_starting_together_migrate_once(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    count = 10
    start = threading.Barrier(count)
    opened: list[PostgresStorage] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def open_one() -> None:
        try:
            start.wait(timeout=30)
            storage = PostgresStorage(postgres_url, pool=PoolSettings(max_connections=2))
            with lock:
                opened.append(storage)
        except BaseException as error:
            errors.append(error)

    caplog.set_level(logging.INFO, logger="barehttp.storage")
    threads = [threading.Thread(target=open_one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for storage in opened:
        storage.close()
    assert errors == [] and len(opened) == count
    migrated = [record for record in caplog.records if "migrated" in record.getMessage()]
    assert len(migrated) == len(POSTGRES_MIGRATIONS)  # one instance did it; nine found it done
    assert recorded_versions(postgres_url) == [m.version for m in POSTGRES_MIGRATIONS]


# Concurrency across instances.


def test_spends_from_two_instances_never_overspend(postgres_url: str) -> None:
    instances = [PostgresStorage(postgres_url) for _ in range(2)]
    user = add_user(instances[0], credits_limit=100)
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def spend(storage: PostgresStorage) -> None:
        start.wait(timeout=30)
        for _ in range(10):
            spent = storage.spend_credits(user.id, 1) is not None
            with lock:
                results.append(spent)

    threads = [threading.Thread(target=spend, args=(instances[i % 2],)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stored = instances[1].get_user(user.id)
    for storage in instances:
        storage.close()
    assert len(results) == 200 and sum(results) == 100
    assert stored is not None and stored.credits_used == 100


# Bounds and outages.


def test_busy_row_past_statement_timeout_is_unavailable(postgres_url: str) -> None:
    storage = PostgresStorage(postgres_url, pool=PoolSettings(statement_timeout_s=0.3))
    user = add_user(storage)
    with psycopg.connect(postgres_url) as holder:
        holder.execute("SELECT 1 FROM users WHERE id = %s FOR UPDATE", (user.id,))
        started = time.monotonic()
        with pytest.raises(StorageUnavailable, match="statement timeout"):
            storage.spend_credits(user.id, 1)
        assert time.monotonic() - started < 5
    assert storage.spend_credits(user.id, 1) is not None  # the pool recovered
    storage.close()


def test_exhausted_pool_is_unavailable_after_acquire_timeout(postgres_url: str) -> None:
    settings = PoolSettings(min_connections=1, max_connections=1, acquire_timeout_s=0.3)
    storage = PostgresStorage(postgres_url, pool=settings)
    with storage._pool.connection():  # the only connection is busy
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            storage.list_users()
        assert time.monotonic() - started < 3
    assert storage.list_users() == []
    storage.close()


def test_stopped_server_is_unavailable_then_recovers(
    postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    storage = PostgresStorage(postgres_url, pool=QUICK)
    user = add_user(storage, credits_limit=10)
    postgres_cluster.stop()
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            storage.spend_credits(user.id, 1)
        with pytest.raises(StorageUnavailable):
            storage.get_user(user.id)
        assert time.monotonic() - started < 10  # bounded by the pool's timeouts
    finally:
        postgres_cluster.start()
    deadline = time.monotonic() + 30
    while True:  # no reopening: the pool reconnects on its own
        try:
            usage = storage.spend_credits(user.id, 1)
            break
        except StorageUnavailable:
            assert time.monotonic() < deadline, "did not recover"
            time.sleep(0.1)
    assert usage is not None and usage.credits_used == 1
    storage.close()


def test_restart_mid_load_loses_and_doubles_no_spend(
    postgres_cluster: PostgresCluster, postgres_url: str
) -> None:
    storage = PostgresStorage(postgres_url, pool=QUICK)
    user = add_user(storage, credits_limit=1_000_000)
    counts = {"spent": 0, "unknown": 0}
    lock = threading.Lock()
    stop = threading.Event()

    def spend() -> None:
        while not stop.is_set():
            try:
                spent = storage.spend_credits(user.id, 1) is not None
                outcome = "spent" if spent else "refused"
            except StorageUnavailable:
                outcome = "unknown"  # may or may not have committed
            with lock:
                counts[outcome] = counts.get(outcome, 0) + 1

    threads = [threading.Thread(target=spend) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while counts["spent"] < 50:
        assert time.monotonic() < deadline, f"no load before the restart: {counts}"
        time.sleep(0.01)
    postgres_cluster.stop()
    postgres_cluster.start()
    before = counts["spent"]
    deadline = time.monotonic() + 30
    while counts["spent"] < before + 50:
        assert time.monotonic() < deadline, "did not recover"
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    stored = storage.get_user(user.id)
    storage.close()
    assert stored is not None
    # Every spend reported as done is stored once; a failed one was at most stored.
    assert counts["spent"] <= stored.credits_used <= counts["spent"] + counts["unknown"]


# Passwords and libpq defaults.


def test_password_never_in_error_messages(postgres_cluster: PostgresCluster) -> None:
    secret = "Hunter2-not-the-password"
    url = postgres_cluster.tcp_url(password=secret)
    with pytest.raises(StorageUnavailable) as caught:
        PostgresStorage(url, pool=QUICK)
    assert "password authentication failed" in str(caught.value)
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is not None
    closed_port = postgres_cluster.tcp_url(password=secret).replace(
        f":{postgres_cluster.port}/", ":1/"
    )
    with pytest.raises(StorageUnavailable) as caught:
        PostgresStorage(closed_port, pool=QUICK)
    assert secret not in str(caught.value)
    assert "***" in str(caught.value)


def test_password_in_url_works_over_tcp(postgres_cluster: PostgresCluster) -> None:
    with PostgresStorage(postgres_cluster.tcp_url(), pool=QUICK) as storage:
        assert isinstance(storage.list_users(), list)


def test_pgpassword_is_used_as_libpq_does(
    postgres_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with PostgresStorage(postgres_cluster.tcp_url(password=None), pool=QUICK) as storage:
        assert isinstance(storage.list_users(), list)


def test_pgpass_file_is_used_as_libpq_does(
    postgres_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_cluster.port}:*:postgres:{PASSWORD}\n")
    os.chmod(pgpass, 0o600)  # libpq ignores a file others can read
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    with PostgresStorage(postgres_cluster.tcp_url(password=None), pool=QUICK) as storage:
        assert isinstance(storage.list_users(), list)


@pytest.mark.parametrize(
    "settings",
    [
        {"max_connections": 0},
        {"min_connections": 5, "max_connections": 2},
        {"connect_timeout_s": 1},
        {"acquire_timeout_s": 0.0},
        {"statement_timeout_s": float("inf")},
        {"reconnect_timeout_s": -1.0},
    ],
    ids=repr,
)
def test_pool_settings_refuse_nonsense(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PoolSettings(**settings)  # type: ignore[arg-type]


def test_claims_from_two_instances_are_exact(postgres_url: str) -> None:
    instances = [PostgresStorage(postgres_url) for _ in range(2)]
    counter = AttemptCounter(FailureScope.USERNAME, "alice", 7)
    start = threading.Barrier(16)
    granted: list[bool] = []
    lock = threading.Lock()

    def race(storage: PostgresStorage) -> None:
        start.wait(timeout=30)
        for _ in range(3):
            result = storage.claim_attempt((counter,), attempted_at=100.0, since=0.0)
            with lock:
                granted.append(result is not None)

    threads = [threading.Thread(target=race, args=(instances[i % 2],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for storage in instances:
        storage.close()
    assert len(granted) == 48 and sum(granted) == counter.max_attempts


def test_database_from_schema_1_gains_attempts_and_keeps_failures(postgres_url: str) -> None:
    counter = AttemptCounter(FailureScope.USERNAME, "alice", 5)
    old = PostgresStorage(postgres_url, migrations=POSTGRES_MIGRATIONS[:1])
    for _ in range(4):
        old.record_login_failure(counter.scope, counter.key, 90.0)
    old.close()
    with PostgresStorage(postgres_url) as upgraded:
        assert upgraded.claim_attempt((counter,), attempted_at=100.0, since=0.0) is not None
        assert upgraded.claim_attempt((counter,), attempted_at=100.0, since=0.0) is None


def test_cleanup_skips_rows_another_instance_is_deleting(postgres_url: str) -> None:
    first, second = PostgresStorage(postgres_url), PostgresStorage(postgres_url)
    user = add_user(first)
    for index in range(10):
        first.create_session(make_session(user.id, bytes([index]) * 32, expires_at=100.0))
        first.record_login_failure(FailureScope.ADDRESS, "192.0.2.1", 50.0)
    with psycopg.connect(postgres_url) as other:  # another instance, mid-cleanup
        other.execute(
            "SELECT 1 FROM sessions WHERE token_hash = %s FOR UPDATE",
            (make_session(user.id, bytes([0]) * 32).token_hash,),
        )
        other.execute("SELECT 1 FROM login_failures ORDER BY id LIMIT 3 FOR UPDATE")
        started = time.monotonic()
        assert second.delete_expired_sessions(200.0) == 9  # the locked one is left to it
        assert second.delete_login_failures_before(60.0) == 7
        # Did not wait for the other's locks: that wait would end in the statement
        # timeout's StorageUnavailable, not in these counts.
        assert time.monotonic() - started < PoolSettings().statement_timeout_s
    assert first.delete_expired_sessions(200.0) == 1  # released: cleaned next time
    assert first.delete_login_failures_before(60.0) == 3
    first.close()
    second.close()


def test_concurrent_cleanups_delete_each_row_once(postgres_url: str) -> None:
    instances = [PostgresStorage(postgres_url) for _ in range(2)]
    user = add_user(instances[0])
    for index in range(300):
        token = index.to_bytes(2, "big") * 16
        instances[0].create_session(make_session(user.id, token, expires_at=100.0))
    start = threading.Barrier(6)
    counts: list[int] = []
    lock = threading.Lock()

    def clean(storage: PostgresStorage) -> None:
        start.wait(timeout=30)
        deleted = storage.delete_expired_sessions(200.0)
        with lock:
            counts.append(deleted)

    threads = [threading.Thread(target=clean, args=(instances[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for storage in instances:
        storage.close()
    assert len(counts) == 6 and sum(counts) == 300
