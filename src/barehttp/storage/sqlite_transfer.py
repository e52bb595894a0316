"""Raw table access to a SQLite file for `transfer.copy_database`."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence

from barehttp.storage.base import StorageError
from barehttp.storage.copy_tables import Rows, Table
from barehttp.storage.migrations import immediate_transaction


class SQLiteRowStore:
    def __init__(self, path: str) -> None:
        self._path = path
        with self._errors():
            self._connection = sqlite3.connect(path, timeout=5.0, isolation_level=None)
            self._connection.execute("PRAGMA foreign_keys = ON")

    def count_rows(self, table: Table) -> int:
        with self._errors():
            row = self._connection.execute(f"SELECT COUNT(*) FROM {table.name}").fetchone()
        return int(row[0])

    def read_rows(self, table: Table) -> Rows:
        columns = ", ".join(table.columns)
        with self._errors():
            cursor = self._connection.execute(
                f"SELECT {columns} FROM {table.name} ORDER BY {table.columns[0]}"
            )
            return [tuple(row) for row in cursor.fetchall()]

    def replace_all(self, contents: Sequence[tuple[Table, Rows]]) -> None:
        with self._errors(), immediate_transaction(self._connection):
            self._connection.execute("DELETE FROM login_failures")
            for table, _ in reversed(contents):  # children first
                self._connection.execute(f"DELETE FROM {table.name}")
            for table, rows in contents:
                marks = ", ".join("?" for _ in table.columns)
                self._connection.executemany(
                    f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})",
                    rows,
                )

    def close(self) -> None:
        self._connection.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as error:
            raise StorageError(f"sqlite ({self._path}): {error}") from error
