"""`Storage.get_live_usage` for the SQL backends: watched users' counters and live sessions.

One statement for every watched user: each user's row, joined to its sessions that
are still live (``sessions_by_user`` index), one row per live session, or one row
with a NULL token hash for a user without any. The ids are one parameter, so the
statement's text and its number of placeholders do not grow with the users.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from barehttp.storage.base import LiveUsage, Usage

_LIVE_USAGE = (
    "SELECT u.id, u.credits_used, u.credits_limit, s.token_hash FROM users AS u"
    " LEFT JOIN sessions AS s ON s.user_id = u.id AND s.expires_at > {placeholder}"
    " WHERE u.id {ids}"
)
# Parameters of both: now, then the user ids. SQLite reads them from a JSON array
# (json_each: no limit on the number of host parameters to meet); PostgreSQL from
# an int8 array.
SQLITE_LIVE_USAGE = _LIVE_USAGE.format(placeholder="?", ids="IN (SELECT value FROM json_each(?))")
POSTGRES_LIVE_USAGE = _LIVE_USAGE.format(placeholder="%s", ids="= ANY(%s::int8[])")


def sqlite_ids(user_ids: Collection[int]) -> str:
    """The ids as the JSON array the SQLite statement reads."""
    return json.dumps([int(user_id) for user_id in user_ids])


def postgres_ids(user_ids: Collection[int]) -> list[int]:
    """The ids as the list psycopg sends as an array."""
    return [int(user_id) for user_id in user_ids]


def live_usage_from_rows(rows: Iterable[Sequence[Any]]) -> dict[int, LiveUsage]:
    """Fold the statement's rows (one per live session) into one `LiveUsage` per user."""
    usages: dict[int, Usage] = {}
    hashes: dict[int, set[bytes]] = {}
    for row in rows:
        user_id = int(row[0])
        if user_id not in usages:
            usages[user_id] = Usage(credits_used=int(row[1]), credits_limit=int(row[2]))
            hashes[user_id] = set()
        if row[3] is not None:
            hashes[user_id].add(bytes(row[3]))
    return {
        user_id: LiveUsage(usage=usage, session_hashes=frozenset(hashes[user_id]))
        for user_id, usage in usages.items()
    }
