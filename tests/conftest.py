"""Session-wide fixtures: one throwaway PostgreSQL cluster, one database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgcluster import PostgresCluster


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Started once, on first use (about 1.5 s), and removed at the end of the session."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def postgres_database(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The name of a fresh, empty database, dropped after the test."""
    if not postgres_cluster.is_running():  # a test that stopped the server restarts it
        postgres_cluster.start()
    name = postgres_cluster.create_database()
    yield name
    if not postgres_cluster.is_running():
        postgres_cluster.start()
    postgres_cluster.drop_database(name)


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster, postgres_database: str) -> str:
    """A libpq URL (Unix socket) of a fresh database."""
    return postgres_cluster.socket_url(postgres_database)
