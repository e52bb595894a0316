"""Fixtures for storage tests: a real SQLite file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from barehttp.storage.sqlite import SQLiteStorage


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "barehttp.sqlite3"


@pytest.fixture
def storage(db_path: Path) -> Iterator[SQLiteStorage]:
    opened = SQLiteStorage(db_path)
    yield opened
    opened.close()
