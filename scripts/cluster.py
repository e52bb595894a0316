"""`make cluster`: a throwaway PostgreSQL, three `barehttp app` instances, nginx in front.

Everything listens on 127.0.0.1: nginx on --port (default 8080), the instances on free
ports, PostgreSQL on a Unix socket in a temp directory. Ctrl-C (or SIGTERM) stops
everything this script started, by PID, and deletes the temp directories.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.nginx import NginxBalancer  # noqa: E402
from tests.pgcluster import PostgresCluster, free_port  # noqa: E402

BAREHTTP = Path(sys.executable).parent / "barehttp"
INSTANCE_POOL = 10  # connections per instance: 3 x 10 stays well under max_connections
READY_TIMEOUT_S = 30.0


def start_instance(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as stream:
        return subprocess.Popen(
            [
                *(str(BAREHTTP), "app", "--port", str(port), "--db", url),
                *("--db-pool", str(INSTANCE_POOL), "--no-access-log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=stream,
            stderr=stream,
        )


def wait_listening(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"instance on {port} exited:\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"instance on {port} not listening") from None
            time.sleep(0.05)


def stop_instance(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # drains in-flight requests, then exits
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    parser.add_argument("--instances", type=int, default=3, choices=range(1, 9))
    args = parser.parse_args(argv)

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    cluster = PostgresCluster(max_connections=100)
    instances: list[subprocess.Popen[bytes]] = []
    balancer: NginxBalancer | None = None
    try:
        cluster.start()
        database = cluster.create_database()
        url = cluster.socket_url(database)
        ports = [free_port() for _ in range(args.instances)]
        logs = [cluster.root / f"app-{port}.log" for port in ports]
        # Started together: the advisory lock lets exactly one of them migrate.
        instances = [start_instance(url, port, log) for port, log in zip(ports, logs, strict=True)]
        for process, port, log in zip(instances, ports, logs, strict=True):
            wait_listening(process, port, log)
        balancer = NginxBalancer(args.port, ports)
        balancer.start()
        sys.stdout.write(
            f"barehttp cluster on http://127.0.0.1:{args.port}/ (Ctrl-C stops everything)\n"
            f"  nginx      127.0.0.1:{args.port} -> {', '.join(map(str, ports))}\n"
            f"  postgres   {url}\n"
            f"  app logs   {cluster.root}/app-*.log\n"
        )
        sys.stdout.flush()
        while not stop.wait(0.5):
            for process, port in zip(instances, ports, strict=True):
                if process.poll() is not None:
                    sys.stderr.write(f"instance on port {port} exited ({process.returncode})\n")
    except RuntimeError as error:
        sys.stderr.write(f"cluster: {error}\n")
        return 1
    finally:
        sys.stdout.write("stopping nginx, instances and PostgreSQL...\n")
        if balancer is not None:
            balancer.stop()
        for process in instances:
            stop_instance(process)
        with contextlib.suppress(RuntimeError):
            cluster.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
