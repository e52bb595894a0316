"""The tables `barehttp db copy` moves between databases, and their columns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]


# Parents before children: sessions reference users.
TABLES: tuple[Table, ...] = (
    Table(
        "users",
        ("id", "username", "email", "password_hash", "credits_used", "credits_limit", "created_at"),
    ),
    Table("sessions", ("token_hash", "user_id", "csrf_token", "created_at", "expires_at")),
)
Rows = list[tuple[object, ...]]
