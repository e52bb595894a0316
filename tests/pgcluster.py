"""A throwaway PostgreSQL cluster in a temp directory: initdb, pg_ctl start/stop, databases.

Debian's `postgresql` package puts its binaries in /usr/lib/postgresql/<major>/bin, off
PATH. initdb refuses to run as root, so as root every server command runs as the
`postgres` user the package creates, on a directory that user owns.

Authentication: the Unix socket trusts every local user; TCP on 127.0.0.1 asks for the
password (SCRAM), so tests can check that PGPASSWORD, .pgpass and URL passwords work.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
PASSWORD = "s3cret-pw"  # the superuser's password over TCP (throwaway clusters only)
START_ATTEMPTS = 5  # a free port can be taken between finding it and binding it


def find_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory.

    Raises:
        RuntimeError: if no PostgreSQL server is installed.
    """
    candidates = sorted(
        (path for path in PG_ROOT.glob("*/bin") if (path / "initdb").exists()),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise RuntimeError(
            "PostgreSQL is not installed (no initdb under /usr/lib/postgresql):"
            " run scripts/install-system-deps.sh"
        )
    return candidates[-1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class PostgresCluster:
    """One PostgreSQL server in its own directory, on 127.0.0.1 and a Unix socket."""

    def __init__(
        self,
        *,
        tuned_for_tests: bool = True,
        max_connections: int = 200,
        extra_settings: tuple[str, ...] = (),
    ) -> None:
        self.bin_dir = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="barehttp-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_file = self.root / "postgres.log"
        self.port = 0
        self._as_postgres = os.geteuid() == 0
        self._settings = [f"-c max_connections={max_connections}"]
        if tuned_for_tests:
            # Durability off: a throwaway cluster trades crash safety for speed.
            self._settings += ["-c fsync=off", "-c synchronous_commit=off"]
        self._settings += [f"-c {setting}" for setting in extra_settings]
        self.socket_dir.mkdir()
        if self._as_postgres:
            entry = pwd.getpwnam(SUPERUSER)
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._initdb()

    # Server lifecycle.

    def start(self, *, prefix: Sequence[str] = ()) -> None:
        """Start the server on a free port (the same port again after a stop).

        `prefix` runs before pg_ctl, e.g. ("taskset", "-c", "0") to pin the server.
        """
        for attempt in range(START_ATTEMPTS):
            if not self.port or attempt:
                self.port = free_port()
            options = " ".join(
                [
                    f"-p {self.port}",
                    f"-k {self.socket_dir}",
                    "-c listen_addresses=127.0.0.1",
                    *self._settings,
                ]
            )
            result = self._run(
                [
                    *("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file)),
                    *("-o", options, "-w", "-t", "60", "start"),
                ],
                check=False,
                prefix=prefix,
            )
            if result.returncode == 0:
                return
        raise RuntimeError(f"PostgreSQL did not start; see {self.log_file}")

    def stop(self) -> None:
        """Fast shutdown: clients are disconnected, nothing committed is lost."""
        self._run(["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def is_running(self) -> bool:
        status = self._run(["pg_ctl", "-D", str(self.data_dir), "status"], check=False)
        return status.returncode == 0

    def remove(self) -> None:
        """Stop the server if running and delete its directory."""
        if self.is_running():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # Databases.

    def socket_url(self, database: str = "postgres") -> str:
        """A libpq URL over the Unix socket (trusted, no password)."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def tcp_url(self, database: str = "postgres", *, password: str | None = PASSWORD) -> str:
        """A libpq URL over TCP; the password is left out when None."""
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{SUPERUSER}{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database with a random name; returns the name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.socket_url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.socket_url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # Internals.

    def _initdb(self) -> None:
        password_file = self.root / "pwfile"
        password_file.write_text(PASSWORD + "\n")
        if self._as_postgres:
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(password_file, entry.pw_uid, entry.pw_gid)
        self._run(
            [
                *("initdb", "-D", str(self.data_dir), "-U", SUPERUSER),
                *("--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}"),
                *("--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"),
            ]
        )
        password_file.unlink()

    def _run(
        self, command: list[str], *, check: bool = True, prefix: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bin_dir / command[0]), *command[1:]]
        if self._as_postgres:
            argv = ["runuser", "-u", SUPERUSER, "--", *argv]
        argv = [*prefix, *argv]
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, check=False, cwd=self.root
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stderr.strip() or result.stdout}")
        return result
