"""The SQLite database file itself: created owner-only, switched to WAL mode."""

from __future__ import annotations

import os
import sqlite3
import time

from barehttp.storage.base import StorageError


def create_private(path: str) -> None:
    """Create the database file owner-only (0600) unless it exists already.

    It holds password hashes and session hashes. SQLite would create it with 0644
    (less the umask), and it gives the -wal and -shm files the main file's mode.
    Raises `StorageError` if the file cannot be created.
    """
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return  # SQLite opens it as it is
    except OSError as error:
        raise StorageError(f"cannot open {path}: {error.strerror}") from error
    os.close(descriptor)


def enable_wal(connection: sqlite3.Connection, path: str, busy_timeout_ms: int) -> None:
    """Switch the file to WAL, retrying while another process holds the lock."""
    # WAL lets readers run beside the one writer, across processes too. The mode is
    # stored in the file, so switching once covers every later connection.
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchall()[0][0]
            break
        except sqlite3.OperationalError as error:
            # The switch needs an exclusive lock and SQLite returns SQLITE_BUSY at
            # once instead of calling the busy handler: two processes creating the
            # same file together hit this (seen in test_sqlite_processes).
            if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # primary code
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.005)
    if str(mode).lower() != "wal":
        raise StorageError(f"could not switch {path} to WAL (got {mode!r})")
