"""PostgreSQL statements for sign-in failures and claimed attempts (the lockout's counts).

Every write that adds rows against a (scope, key) first takes a transaction-level
advisory lock on that pair, so a claim's count and its inserts are one atomic step
against every other claim and failure write on the pair, from any instance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from barehttp.storage.base import AttemptCounter, FailureScope

Connection = psycopg.Connection[Any]

# hashtextextended() spreads (scope, key) over 64-bit advisory lock keys; two pairs that
# happen to share a key only wait for each other, which costs time, never correctness.
_LOCK_PAIR = "SELECT pg_advisory_xact_lock(hashtextextended(%s || chr(31) || %s, 0))"


def record_failure(connection: Connection, scope: FailureScope, key: str, failed_at: float) -> None:
    """Insert one failure row against (scope, key), under the pair's lock."""
    with connection.transaction():
        connection.execute(_LOCK_PAIR, (scope.value, key))
        connection.execute(
            "INSERT INTO login_failures (scope, key, failed_at) VALUES (%s, %s, %s)",
            (scope.value, key, failed_at),
        )


def recent_failures(
    connection: Connection, scope: FailureScope, key: str, since: float, limit: int
) -> list[float]:
    """Times of rows against (scope, key) later than `since`, newest first, at most `limit`."""
    rows = connection.execute(
        "SELECT failed_at FROM login_failures"
        " WHERE scope = %s AND key = %s AND failed_at > %s"
        " ORDER BY failed_at DESC LIMIT %s",
        (scope.value, key, since, limit),
    ).fetchall()
    return [float(row[0]) for row in rows]


def clear_failures(connection: Connection, scope: FailureScope, key: str) -> int:
    """Delete every row against (scope, key); returns how many."""
    cursor = connection.execute(
        "DELETE FROM login_failures WHERE scope = %s AND key = %s", (scope.value, key)
    )
    return cursor.rowcount


def delete_failures_before(connection: Connection, before: float) -> int:
    """Delete rows at or before `before`; returns how many this call deleted.

    Rows another instance is deleting at the same moment are skipped, not waited for.
    """
    cursor = connection.execute(
        "DELETE FROM login_failures WHERE id IN (SELECT id FROM login_failures"
        " WHERE failed_at <= %s FOR UPDATE SKIP LOCKED)",
        (before,),
    )
    return cursor.rowcount


def claim_attempt(
    connection: Connection,
    counters: Sequence[AttemptCounter],
    attempted_at: float,
    since: float,
) -> int | None:
    """`Storage.claim_attempt` on one connection (see its docstring for the contract)."""
    if not counters:
        raise ValueError("claim_attempt needs at least one counter")
    # Locks in one global order, so two claims over the same pairs cannot deadlock.
    pairs = sorted({(counter.scope.value, counter.key) for counter in counters})
    with connection.transaction():
        for scope, key in pairs:
            connection.execute(_LOCK_PAIR, (scope, key))
        for counter in counters:
            row = connection.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM login_failures"
                " WHERE scope = %s AND key = %s AND failed_at > %s LIMIT %s) AS recent",
                (counter.scope.value, counter.key, since, counter.max_attempts),
            ).fetchone()
            if row is not None and int(row[0]) >= counter.max_attempts:
                return None
        # A sequence never hands out a number twice, even after rollbacks.
        row = connection.execute("SELECT nextval('attempt_ids')").fetchone()
        assert row is not None
        attempt_id = int(row[0])
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO login_failures (scope, key, failed_at, attempt_id)"
                " VALUES (%s, %s, %s, %s)",
                [
                    (counter.scope.value, counter.key, attempted_at, attempt_id)
                    for counter in counters
                ],
            )
    return attempt_id


def release_attempt(connection: Connection, attempt_id: int) -> int:
    """Delete the rows of one claimed attempt; returns how many."""
    return connection.execute(
        "DELETE FROM login_failures WHERE attempt_id = %s", (attempt_id,)
    ).rowcount
