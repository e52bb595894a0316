"""Fixtures for storage tests: each backend on a real database of its own per test.

`storage` and `backend` run a test against SQLite (a file) and PostgreSQL (a fresh
database in the session's throwaway cluster); `sqlite_storage` is SQLite alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from barehttp.storage.base import Storage
from barehttp.storage.sqlite import SQLiteStorage

if TYPE_CHECKING:
    from barehttp.storage.postgres import PostgresStorage


@dataclass(frozen=True)
class Backend:
    """One backend under test: `open()` gives a new handle on the same database."""

    name: str
    open: Callable[[], SQLiteStorage | PostgresStorage]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "barehttp.sqlite3"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, db_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", lambda: SQLiteStorage(db_path))
    from barehttp.storage.postgres import PostgresStorage

    url: str = request.getfixturevalue("postgres_url")
    return Backend("postgres", lambda: PostgresStorage(url))


@pytest.fixture
def storage(backend: Backend) -> Iterator[Storage]:
    opened = backend.open()
    yield opened
    opened.close()


@pytest.fixture
def sqlite_storage(db_path: Path) -> Iterator[SQLiteStorage]:
    opened = SQLiteStorage(db_path)
    yield opened
    opened.close()
