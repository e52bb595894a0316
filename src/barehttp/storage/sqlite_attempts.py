"""SQLite statements for sign-in failures and claimed attempts (the lockout's counts)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from barehttp.storage.base import AttemptCounter, FailureScope
from barehttp.storage.migrations import immediate_transaction


def record_failure(
    connection: sqlite3.Connection, scope: FailureScope, key: str, failed_at: float
) -> None:
    """Insert one failure row against (scope, key)."""
    connection.execute(
        "INSERT INTO login_failures (scope, key, failed_at) VALUES (?, ?, ?)",
        (scope.value, key, failed_at),
    ).close()


def recent_failures(
    connection: sqlite3.Connection, scope: FailureScope, key: str, since: float, limit: int
) -> list[float]:
    """Times of rows against (scope, key) later than `since`, newest first, at most `limit`."""
    rows = connection.execute(
        "SELECT failed_at FROM login_failures"
        " WHERE scope = ? AND key = ? AND failed_at > ?"
        " ORDER BY failed_at DESC LIMIT ?",
        (scope.value, key, since, limit),
    ).fetchall()
    return [float(row[0]) for row in rows]


def clear_failures(connection: sqlite3.Connection, scope: FailureScope, key: str) -> int:
    """Delete every row against (scope, key); returns how many."""
    return _count(
        connection,
        "DELETE FROM login_failures WHERE scope = ? AND key = ?",
        (scope.value, key),
    )


def delete_failures_before(connection: sqlite3.Connection, before: float) -> int:
    """Delete rows at or before `before`; returns how many."""
    return _count(connection, "DELETE FROM login_failures WHERE failed_at <= ?", (before,))


def claim_attempt(
    connection: sqlite3.Connection,
    counters: Sequence[AttemptCounter],
    attempted_at: float,
    since: float,
) -> int | None:
    """`Storage.claim_attempt` on one connection (see its docstring for the contract)."""
    if not counters:
        raise ValueError("claim_attempt needs at least one counter")
    # BEGIN IMMEDIATE holds the database's one write lock from the counts to the
    # inserts, so no other claim, in this process or another, can slip in between.
    with immediate_transaction(connection):
        for counter in counters:
            rows = connection.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM login_failures"
                " WHERE scope = ? AND key = ? AND failed_at > ? LIMIT ?)",
                (counter.scope.value, counter.key, since, counter.max_attempts),
            ).fetchall()
            if int(rows[0][0]) >= counter.max_attempts:
                return None
        rows = connection.execute(
            "UPDATE attempt_sequence SET last_id = last_id + 1 RETURNING last_id"
        ).fetchall()
        attempt_id = int(rows[0][0])
        connection.executemany(
            "INSERT INTO login_failures (scope, key, failed_at, attempt_id) VALUES (?, ?, ?, ?)",
            [(counter.scope.value, counter.key, attempted_at, attempt_id) for counter in counters],
        )
    return attempt_id


def release_attempt(connection: sqlite3.Connection, attempt_id: int) -> int:
    """Delete the rows of one claimed attempt; returns how many."""
    return _count(connection, "DELETE FROM login_failures WHERE attempt_id = ?", (attempt_id,))


def _count(connection: sqlite3.Connection, sql: str, parameters: Sequence[object]) -> int:
    cursor = connection.execute(sql, parameters)
    count = cursor.rowcount
    cursor.close()
    return count
