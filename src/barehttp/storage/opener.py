"""open_storage: a SQLite path or a PostgreSQL URL in, the matching backend out."""

from __future__ import annotations

import os

from barehttp.storage.base import Storage, StorageError
from barehttp.storage.dburl import is_postgres_location, redact

ENV_VARIABLE = "BAREHTTP_DB"  # read by the command line when --db is not given
DEFAULT_LOCATION = "./barehttp.db"
INSTALL_HINT = "PostgreSQL support needs psycopg: pip install 'barehttp[postgres]'"


class DriverMissing(StorageError):
    """A PostgreSQL URL was given but psycopg (the `postgres` extra) is not installed."""


def choose_location(given: str | None) -> str:
    """--db if given, else $BAREHTTP_DB if set and not empty, else ./barehttp.db."""
    return given or os.environ.get(ENV_VARIABLE) or DEFAULT_LOCATION


def open_storage(location: str, *, pool_size: int | None = None) -> Storage:
    """Open (creating and migrating as needed) the database at `location`.

    `pool_size` bounds PostgreSQL connections per process; SQLite ignores it.

    Raises:
        DriverMissing: for a PostgreSQL URL without psycopg installed.
        StorageError: (and subclasses) if the database cannot be opened.
        ValueError: for a location no backend accepts.
    """
    if not is_postgres_location(location):
        from barehttp.storage.sqlite import SQLiteStorage

        return SQLiteStorage(location)
    try:
        from barehttp.storage.postgres import PostgresStorage
        from barehttp.storage.postgres_pool import PoolSettings
    except ImportError as error:
        if error.name is not None and error.name.split(".")[0] in ("psycopg", "psycopg_pool"):
            raise DriverMissing(INSTALL_HINT) from None
        raise
    settings = PoolSettings() if pool_size is None else PoolSettings(max_connections=pool_size)
    return PostgresStorage(location, pool=settings)


def describe(location: str) -> str:
    """The location as it may appear in logs and messages: passwords hidden."""
    return redact(location)


def is_missing_file(location: str) -> bool:
    """True for a SQLite path with no file behind it (a URL is never 'missing')."""
    return not is_postgres_location(location) and not os.path.isfile(location)
