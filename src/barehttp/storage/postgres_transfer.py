"""Raw table access to a PostgreSQL database for `transfer.copy_database`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from barehttp.storage.base import StorageError
from barehttp.storage.copy_tables import Rows, Table
from barehttp.storage.dburl import redact, scrub


class PostgresRowStore:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        with self._errors():
            self._connection: psycopg.Connection[Any] = psycopg.connect(
                conninfo, autocommit=True, connect_timeout=10
            )

    def count_rows(self, table: Table) -> int:
        with self._errors():
            row = self._connection.execute(f"SELECT COUNT(*) FROM {table.name}".encode()).fetchone()
        return int(row[0]) if row is not None else 0

    def read_rows(self, table: Table) -> Rows:
        columns = ", ".join(table.columns)
        query = f"SELECT {columns} FROM {table.name} ORDER BY {table.columns[0]}"
        with self._errors():
            rows = self._connection.execute(query.encode()).fetchall()
        # bytea comes back as bytes already; memoryview would not go into sqlite3.
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]

    def replace_all(self, contents: Sequence[tuple[Table, Rows]]) -> None:
        with self._errors(), self._connection.transaction():
            self._connection.execute("DELETE FROM login_failures")
            for table, _ in reversed(contents):  # children first
                self._connection.execute(f"DELETE FROM {table.name}".encode())
            for table, rows in contents:
                marks = ", ".join("%s" for _ in table.columns)
                insert = f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({marks})"
                with self._connection.cursor() as cursor:
                    cursor.executemany(insert.encode(), rows)
            # Ids were copied as they were: new accounts must be numbered after them.
            self._connection.execute(
                "SELECT setval(pg_get_serial_sequence('users', 'id'),"
                " COALESCE((SELECT MAX(id) FROM users), 0) + 1, false)"
            )

    def close(self) -> None:
        self._connection.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as error:
            message = scrub(" ".join(str(error).split()), self._conninfo)
            raise StorageError(f"postgresql ({redact(self._conninfo)}): {message}") from None
