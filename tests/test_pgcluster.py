"""The throwaway PostgreSQL cluster the tests use: socket trusted, TCP needs the password."""

from __future__ import annotations

import psycopg
import pytest

from tests.pgcluster import PostgresCluster


def test_socket_connection_needs_no_password(postgres_cluster: PostgresCluster) -> None:
    with psycopg.connect(postgres_cluster.socket_url()) as connection:
        row = connection.execute("SHOW fsync").fetchone()
    assert row == ("off",)  # tuned for tests


def test_tcp_connection_needs_the_password(postgres_cluster: PostgresCluster) -> None:
    with psycopg.connect(postgres_cluster.tcp_url()) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(postgres_cluster.tcp_url(password="wrong"), connect_timeout=5)


def test_each_test_gets_an_empty_database(
    postgres_cluster: PostgresCluster, postgres_database: str
) -> None:
    with psycopg.connect(postgres_cluster.socket_url(postgres_database)) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone()
    assert row == (0,)
