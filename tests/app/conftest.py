"""Fixtures for app tests: a hand-driven clock, cheap scrypt, a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from barehttp.app.accounts import Accounts, make_accounts
from barehttp.app.passwords import ScryptParams
from barehttp.app.settings import AccountSettings
from barehttp.storage.sqlite import SQLiteStorage

# Cheapest valid scrypt: the tests check behaviour, not cost.
FAST_SCRYPT = ScryptParams(n=2, r=1, p=1)
START = 1_700_000_000.0


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "app.sqlite3"


@pytest.fixture
def storage(db_path: Path) -> Iterator[SQLiteStorage]:
    opened = SQLiteStorage(db_path)
    yield opened
    opened.close()


@pytest.fixture
def settings() -> AccountSettings:
    return AccountSettings(scrypt=FAST_SCRYPT, default_credits_limit=100)


@pytest.fixture
def accounts(storage: SQLiteStorage, settings: AccountSettings, clock: FakeClock) -> Accounts:
    return make_accounts(storage, settings, clock=clock)
