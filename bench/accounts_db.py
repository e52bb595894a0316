#!/usr/bin/env python3
"""The accounts API on SQLite vs PostgreSQL vs two instances behind nginx, under wrk.

Each configuration serves `POST /api/requests` (a signed-in spend of 1 credit: one
conditional UPDATE that finds the user through the session) to wrk with
50 connections. App instances, PostgreSQL and nginx are pinned to CPU 0, wrk to
CPU 1, so "two instances" shows the cost of the extra hop and of sharing one CPU,
not scaling: on a 2-core machine there is no idle core for a second instance.

Durability is matched: SQLite runs WAL with synchronous=NORMAL (no fsync per
commit), PostgreSQL with synchronous_commit=off (no fsync wait per commit; fsync on).

Run with the project's venv (it needs psycopg and the test helpers)::

    .venv/bin/python bench/accounts_db.py --rounds 3 --duration 5 --warmup 1
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.nginx import NginxBalancer  # noqa: E402
from tests.pgcluster import PostgresCluster, free_port  # noqa: E402

from harness import tree_cpu_seconds  # noqa: E402

BAREHTTP = Path(sys.executable).parent / "barehttp"
SERVER_CPU, LOAD_CPU = "0", "1"
CONNECTIONS = 50
THREADS = 8  # app worker threads per instance
PASSWORD = "s3cret!pw-bench"
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"cost": 1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "session=%s"
"""


@dataclass
class Result:
    name: str
    requests_per_s: float
    p99_ms: float
    non_2xx: int
    cpu_ms_per_request: float  # app + PostgreSQL + nginx, from /proc: the cost, load aside


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"server on {port} not listening") from None
            time.sleep(0.05)


@contextlib.contextmanager
def app_instance(db: str, log: Path) -> Iterator[tuple[int, int]]:
    """An app process pinned to the server CPU: (port, pid)."""
    port = free_port()
    argv = ["taskset", "-c", SERVER_CPU, str(BAREHTTP), "app", "--port", str(port)]
    argv += ["--db", db, "--no-access-log", "--threads", str(THREADS)]
    argv += ["--default-credits", "1000000000", "--db-pool", str(THREADS)]
    with log.open("wb") as stream:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stream, stderr=stream)
    try:
        wait_listening(port, process)
        yield port, process.pid  # taskset execs: the pid is the app's
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def sign_up(port: int, username: str) -> str:
    """Sign up through the form (CSRF cookie + field); returns the session token."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/signup")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = next(
        value.split(";")[0]
        for name, value in response.getheaders()
        if name.lower() == "set-cookie" and value.startswith("csrf=")
    )
    match = re.search(r'name="csrf_token" value="([^"]*)"', page)
    assert match is not None, "no csrf field"
    body = urllib.parse.urlencode(
        {
            "csrf_token": match.group(1),
            "username": username,
            "email": f"{username}@example.com",
            "password": PASSWORD,
        }
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
    connection.request("POST", "/signup", body, headers)
    response = connection.getresponse()
    response.read()
    for name, value in response.getheaders():
        if name.lower() == "set-cookie" and value.startswith("session="):
            return value.split(";")[0].split("=", 1)[1]
    raise RuntimeError(f"sign-up failed: {response.status}")


def run_wrk(
    port: int, token: str, duration_s: float, script_dir: Path
) -> tuple[int, float, float, int]:
    script = script_dir / "spend.lua"
    script.write_text(WRK_SCRIPT % token)
    argv = ["taskset", "-c", LOAD_CPU, "wrk", "-t", "1", "-c", str(CONNECTIONS)]
    argv += ["-d", f"{max(1, round(duration_s))}s", "--latency", "-s", str(script)]  # whole s
    output = subprocess.run(
        [*argv, f"http://127.0.0.1:{port}/api/requests"],
        capture_output=True,
        text=True,
        timeout=duration_s + 60,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99_text is not None, output
    p99_ms = float(p99_text.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return count, rate, p99_ms, int(non_2xx.group(1)) if non_2xx else 0


def measure(
    name: str, port: int, token: str, roots: list[int], args: argparse.Namespace, work: Path
) -> Result:
    """Warm up, then one measured wrk run; `roots` are the server side's process trees.

    The CPU split printed follows `roots`: app(s), then PostgreSQL, then nginx.
    """
    if args.warmup > 0:
        run_wrk(port, token, args.warmup, work)
    before = [tree_cpu_seconds(pid) for pid in roots]
    count, rate, p99_ms, non_2xx = run_wrk(port, token, args.duration, work)
    per_root_ms = [
        (tree_cpu_seconds(pid) - earlier) * 1000 / max(1, count)
        for pid, earlier in zip(roots, before, strict=True)
    ]
    cpu_ms = sum(per_root_ms)
    result = Result(name, rate, p99_ms, non_2xx, cpu_ms)
    split = " + ".join(f"{part:.3f}" for part in per_root_ms)
    print(
        f"  {name:<24} {rate:>9.0f} req/s   p99 {p99_ms:>7.1f} ms   "
        f"CPU {cpu_ms:.3f} ms/request ({split})   non-2xx {non_2xx}"
    )
    return result


def one_round(args: argparse.Namespace, cluster: PostgresCluster, work: Path) -> list[Result]:
    """Each configuration once, each on a fresh database."""
    results: list[Result] = []
    work = Path(tempfile.mkdtemp(dir=work))
    with app_instance(str(work / "bench.db"), work / "sqlite.log") as (port, pid):
        token = sign_up(port, "bench_sqlite")
        results.append(measure("sqlite, 1 instance", port, token, [pid], args, work))
    url = cluster.socket_url(cluster.create_database())
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    with app_instance(url, work / "pg.log") as (port, pid):
        token = sign_up(port, "bench_pg")
        roots = [pid, postmaster]
        results.append(measure("postgresql, 1 instance", port, token, roots, args, work))
        with app_instance(url, work / "pg2.log") as (second, second_pid):
            balancer = NginxBalancer(free_port(), [port, second])
            balancer.start(prefix=["taskset", "-c", SERVER_CPU])
            assert balancer.process is not None
            roots = [pid, second_pid, postmaster, balancer.process.pid]
            try:
                results.append(
                    measure("postgresql, 2 + nginx", balancer.port, token, roots, args, work)
                )
            finally:
                balancer.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    args = parser.parse_args()
    cluster = PostgresCluster(
        tuned_for_tests=False, extra_settings=("synchronous_commit=off",), max_connections=100
    )
    everything: list[Result] = []
    try:
        # PostgreSQL on the servers' CPU: it is part of the server side here.
        cluster.start(prefix=["taskset", "-c", SERVER_CPU])
        with tempfile.TemporaryDirectory(prefix="barehttp-bench-") as directory:
            for round_index in range(args.rounds):
                print(f"round {round_index + 1}/{args.rounds}")
                everything += one_round(args, cluster, Path(directory))
    finally:
        cluster.remove()
    print("\nbest of rounds (req/s, p99 ms, server CPU ms per request):")
    best: dict[str, Result] = {}
    for result in everything:
        if result.name not in best or result.requests_per_s > best[result.name].requests_per_s:
            best[result.name] = result
    for result in best.values():
        print(
            f"  {result.name:<24} {result.requests_per_s:>9.0f}   {result.p99_ms:>7.1f}"
            f"   {result.cpu_ms_per_request:.3f}"
        )
    sqlite, pg, pair = (best[name] for name in list(best))
    print(f"postgresql/sqlite req/s: {pg.requests_per_s / sqlite.requests_per_s:.2f}x")
    print(f"throughput cost, postgresql/sqlite: {sqlite.requests_per_s / pg.requests_per_s:.2f}x")
    cpu_ratio = pg.cpu_ms_per_request / sqlite.cpu_ms_per_request
    print(f"CPU per request, postgresql/sqlite: {cpu_ratio:.2f}x")
    scale = pair.requests_per_s / pg.requests_per_s
    print(f"2 instances + nginx / 1 instance (postgresql): {scale:.2f}x")
    print(json.dumps({result.name: vars(result) for result in best.values()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
