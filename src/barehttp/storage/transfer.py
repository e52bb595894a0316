"""Copy accounts, sessions and quotas from one database to another, across backends.

Both sides are first opened as storage, which migrates them to this release's schema
(and refuses one from a newer release), so both hold the same tables and columns.
Sign-in failures are not copied: they expire within minutes and guard one server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from barehttp.storage.base import StorageError
from barehttp.storage.copy_tables import TABLES, Rows, Table
from barehttp.storage.dburl import is_postgres_location, redact


class TargetNotEmpty(StorageError):
    """The target already holds accounts or sessions, and replacing them was not asked for."""


class RowStore(Protocol):
    """Raw table access for copying; each backend has one."""

    def count_rows(self, table: Table) -> int: ...

    def read_rows(self, table: Table) -> Rows: ...

    def replace_all(self, contents: Sequence[tuple[Table, Rows]]) -> None:
        """In one transaction: empty every table given (and login failures), then fill them."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CopyReport:
    counts: dict[str, int]

    def summary(self) -> str:
        return ", ".join(f"{count} {name}" for name, count in self.counts.items())


def copy_database(source: str, target: str, *, replace: bool = False) -> CopyReport:
    """Copy every account (with its quota) and session from `source` to `target`.

    Raises:
        ValueError: if source and target are the same location, or the source is a
            SQLite file that does not exist.
        TargetNotEmpty: if the target holds accounts or sessions and not `replace`.
        StorageError: (and subclasses) if either database fails.
    """
    from barehttp.storage.opener import is_missing_file, open_storage

    if redact(source) == redact(target):
        raise ValueError("--from and --to name the same database")
    if is_missing_file(source):
        raise ValueError(f"no database at {source}")

    for location in (source, target):  # create (target) and migrate both, or refuse
        open_storage(location, pool_size=1).close()
    reader, writer = open_row_store(source), open_row_store(target)
    try:
        existing = sum(writer.count_rows(table) for table in TABLES)
        if existing and not replace:
            raise TargetNotEmpty(
                f"{redact(target)} already holds {existing} accounts and sessions;"
                " add --force to replace them"
            )
        contents = [(table, reader.read_rows(table)) for table in TABLES]
        writer.replace_all(contents)
    finally:
        reader.close()
        writer.close()
    return CopyReport({table.name: len(rows) for table, rows in contents})


def open_row_store(location: str) -> RowStore:
    if is_postgres_location(location):
        from barehttp.storage.postgres_transfer import PostgresRowStore

        return PostgresRowStore(location)
    from barehttp.storage.sqlite_transfer import SQLiteRowStore

    return SQLiteRowStore(location)
