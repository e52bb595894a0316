"""SQLiteStorage only: WAL, busy timeout, per-thread connections (contract: test_storage)."""

from __future__ import annotations

import gc
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from barehttp.storage.base import StorageError
from barehttp.storage.sqlite import SQLiteStorage
from tests.storage.test_storage import add_user

# Connection setup.


def test_file_is_in_wal_mode(sqlite_storage: SQLiteStorage, db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_write_waits_for_lock_held_by_other_connection(
    sqlite_storage: SQLiteStorage, db_path: Path
) -> None:
    user = add_user(sqlite_storage)
    raw = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    raw.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(0.3, lambda: raw.execute("COMMIT"))
    releaser.start()
    started = time.monotonic()
    assert sqlite_storage.spend_credits(user.id, 1) is not None  # waited instead of failing
    assert time.monotonic() - started >= 0.25
    releaser.join()
    raw.close()


def test_short_busy_timeout_gives_storage_error(db_path: Path) -> None:
    impatient = SQLiteStorage(db_path, busy_timeout_ms=50)
    user = add_user(impatient)
    raw = sqlite3.connect(db_path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError, match="locked"):
            impatient.spend_credits(user.id, 1)
    finally:
        raw.execute("COMMIT")
        raw.close()
        impatient.close()


def test_rejects_in_memory_database() -> None:
    with pytest.raises(ValueError, match="file"):
        SQLiteStorage(":memory:")


def test_each_thread_gets_its_own_connection(sqlite_storage: SQLiteStorage) -> None:
    seen: list[sqlite3.Connection] = []

    def grab() -> None:
        seen.append(sqlite_storage._connection())

    threads = [threading.Thread(target=grab) for _ in range(3)]
    for thread in threads:
        thread.start()
        thread.join()
    assert len({id(connection) for connection in seen}) == 3
    assert sqlite_storage._connection() is sqlite_storage._connection()


def test_connection_of_finished_thread_is_released(sqlite_storage: SQLiteStorage) -> None:
    threads = [threading.Thread(target=sqlite_storage.list_users) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gc.collect()
    assert len(sqlite_storage._holders) == 1  # only this thread's connection is left


def test_close_closes_other_threads_connections(db_path: Path) -> None:
    closing = SQLiteStorage(db_path)
    connections: list[sqlite3.Connection] = []
    keep_alive = threading.Event()

    def use() -> None:
        closing.list_users()
        connections.append(closing._connection())
        keep_alive.wait()

    thread = threading.Thread(target=use)
    thread.start()
    while not connections:
        time.sleep(0.01)
    closing.close()
    with pytest.raises(sqlite3.ProgrammingError):
        connections[0].execute("SELECT 1")
    keep_alive.set()
    thread.join()


def test_spend_does_not_leave_write_lock_held(sqlite_storage: SQLiteStorage, db_path: Path) -> None:
    user = add_user(sqlite_storage)
    sqlite_storage.spend_credits(user.id, 1)
    raw = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        # Raises "database is locked" at once if the RETURNING statement kept its lock.
        raw.execute("BEGIN IMMEDIATE")
        assert raw.in_transaction
        raw.execute("ROLLBACK")
    finally:
        raw.close()


def test_database_and_wal_files_are_owner_only(db_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask, which would leave them 0644
    try:
        storage = SQLiteStorage(db_path)
        add_user(storage)  # a write: the -wal and -shm files exist now
        names = [db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")]
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in names}
        storage.close()
    finally:
        os.umask(previous)
    assert modes == {path.name: 0o600 for path in names}


def test_existing_database_keeps_its_mode(db_path: Path) -> None:
    SQLiteStorage(db_path).close()
    db_path.chmod(0o640)  # the operator's choice, e.g. a group for backups
    SQLiteStorage(db_path).close()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o640


def test_unwritable_directory_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open"):
        SQLiteStorage(tmp_path / "missing" / "app.db")
