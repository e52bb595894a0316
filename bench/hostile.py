#!/usr/bin/env python3
"""Hostile clients: does a cheap attack from one machine stall the server for everyone?

Runs each attack of issue 9's table against barehttp (and waitress where the
attack applies), each on a fresh server, while a legitimate client sends a
request every 0.1 s on a new connection and measures its latency (a probe
slower than 5 s, refused or answered with another status than 200 counts as a
failure). Prints one row per (attack, server): legitimate p50/max latency,
failures, and the server's largest resident memory (RSS) during the attack.

Every count and duration is bounded: ``--seconds`` (8) of attack per row, at
most 1,100 connections, every socket call with a deadline. Servers are pinned
to CPU 0 and this script to CPU 1 (when there are two CPUs).

Usage::

    python3 bench/hostile.py
    python3 bench/hostile.py --attacks trickled-bodies,tls-slow-readers --seconds 5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from harness import (
    APPS_DIR,
    LOAD_CPU,
    SERVER_CPU,
    BenchError,
    can_pin,
    find_free_port,
    interrupt_on_signals,
    machine_info,
    pinned,
    prepare,
    stop_process_group,
    tree_status_kib,
    write_results,
)
from hostile_attacks import (
    HOST,
    Attack,
    ConcurrentRequests,
    HeldRequests,
    SlowTLSReaders,
    TrickledBodies,
    exchange,
    open_socket,
    read_response,
)

PROBE_INTERVAL_S = 0.1
PROBE_TIMEOUT_S = 5.0
BEFORE_S = 2.0  # the legitimate client alone first: its latency on a quiet server
BIG_FILE_BYTES = 4 * 1_048_576
CSRF = secrets.token_urlsafe(32)
VICTIM = "victim"
VICTIM_PASSWORD = "correct-horse-battery-9"


@dataclass(frozen=True)
class Target:
    argv: str  # {bin} {apps} {workdir} {host} {port}
    tls: bool = False
    probe_path: str = "/"
    setup: Callable[[Path], None] | None = None


def write_tls_docroot(workdir: Path) -> None:
    docroot = workdir / "docroot"
    docroot.mkdir()
    (docroot / "index.html").write_bytes(b"Hello, World!")
    (docroot / "big.bin").write_bytes(os.urandom(BIG_FILE_BYTES))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         f"/CN={HOST}", "-keyout", str(workdir / "key.pem"), "-out", str(workdir / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


HARD_NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
BAREHTTP = "{bin}/barehttp {command} --host {host} --port {port} --no-access-log"
TARGETS = {
    "barehttp-echo": Target(
        BAREHTTP.replace("{command}", "wsgi --chdir {apps}") + " echo_wsgi:app"
    ),
    "waitress-echo": Target("{bin}/waitress-serve --listen={host}:{port} echo_wsgi:app"),
    "barehttp-hello": Target(BAREHTTP.replace("{command}", "hello")),
    "waitress-hello": Target("{bin}/waitress-serve --listen={host}:{port} hello_wsgi:app"),
    "barehttp-tls": Target(
        BAREHTTP.replace("{command}", "serve")
        + " --certfile {workdir}/cert.pem --keyfile {workdir}/key.pem {workdir}/docroot",
        tls=True,
        setup=write_tls_docroot,
    ),
    # As systemd starts services: soft 1,024, hard far higher (524,288 there; here this
    # script's own hard limit, as an unprivileged process cannot raise it).
    "barehttp-hello-nofile-soft-1024": Target(
        f"prlimit --nofile=1024:{HARD_NOFILE} " + BAREHTTP.replace("{command}", "hello")
    ),
    # hard 1,024 too: connections over the cap are told 503 (and the server recovers)
    "barehttp-hello-nofile-1024-hard": Target(
        "prlimit --nofile=1024:1024 " + BAREHTTP.replace("{command}", "hello")
    ),
    "barehttp-app": Target(BAREHTTP.replace("{command}", "app --db {workdir}/app.db")),
}


def form_post(path: str, fields: dict[str, str]) -> bytes:
    body = "&".join(f"{name}={value}" for name, value in {**fields, "csrf_token": CSRF}.items())
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nCookie: csrf={CSRF}\r\nConnection: close\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
        f"{body}"
    ).encode()


def sign_in(password: str) -> bytes:
    return form_post("/signin", {"username": VICTIM, "password": password})


def sign_up_victim(port: int) -> None:
    status, _ = exchange(
        port,
        form_post(
            "/signup", {"username": VICTIM, "email": "v@example.com", "password": VICTIM_PASSWORD}
        ),
    )
    if status != 303:
        raise BenchError(f"sign-up of the victim answered {status}")


NO_BODY = b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n"
EXPECTING = NO_BODY.replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
UNREAD_BODY = b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 60000\r\n\r\n" + b"x" * 100
HEADER = ("attack", "server", "quiet p50", "p50 ms", "max ms", "ok", "fail", "RSS MiB")


@dataclass(frozen=True)
class Row:
    name: str
    title: str
    targets: tuple[str, ...]
    attack: Callable[[float], Attack]
    before: Callable[[int], None] | None = None
    after: Callable[[int, Attack], None] | None = None


def check_correct_password(port: int, attack: Attack) -> None:
    status, _ = exchange(port, sign_in(VICTIM_PASSWORD))
    attack.notes += f"; then the right password: {status}"


ROWS = [
    Row("heads-no-body", "64 heads, Content-Length: 1000, no body",
        ("barehttp-echo", "waitress-echo"),
        lambda s: HeldRequests(NO_BODY, 64)),
    Row("expect-continue-heads", "64 heads as above with Expect: 100-continue",
        ("barehttp-echo", "waitress-echo"), lambda s: HeldRequests(EXPECTING, 64)),
    Row("trickled-bodies", "64 bodies trickled at 600 B/s each",
        ("barehttp-echo", "waitress-echo"), lambda s: TrickledBodies("/echo", 64, 600, s + 5)),
    Row("unread-body", "64 GETs, Content-Length: 60000, 100 bytes sent",
        ("barehttp-hello", "waitress-hello"),
        lambda s: HeldRequests(UNREAD_BODY, 64)),
    Row("tls-slow-readers", "64 TLS clients reading 4 MiB at 512 B/s",
        ("barehttp-tls",), lambda s: SlowTLSReaders("/big.bin", 64, 512)),
    Row("fd-flood", "1,100 half-open connections, ulimit -n 1024",
        ("barehttp-hello-nofile-soft-1024", "barehttp-hello-nofile-1024-hard"),
        lambda s: HeldRequests(b"", 1_100)),
    Row("wrong-passwords", "64 simultaneous wrong passwords, one account",
        ("barehttp-app",), lambda s: ConcurrentRequests(lambda i: sign_in(f"wrong-{i}"), 64, 64),
        before=sign_up_victim, after=check_correct_password),
    Row("taken-signups", "320 sign-ups of a taken name, one address",
        ("barehttp-app",),
        lambda s: ConcurrentRequests(
            lambda i: form_post("/signup", {"username": VICTIM, "email": f"x{i}@example.com",
                                            "password": f"password-{i}"}), 320, 32),
        before=sign_up_victim),
    Row("api-slow", "64 anonymous GET /api/slow?seconds=10",
        ("barehttp-app",),
        lambda s: ConcurrentRequests(
            lambda i: b"GET /api/slow?seconds=10 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
            64, 64)),
]  # fmt: skip


@dataclass
class Probe:
    """The legitimate client, and the server's memory sampled alongside."""

    port: int
    tls: bool
    path: str
    pid: int
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    statuses: dict[int, int] = field(default_factory=dict)  # of failed probes; 0: no answer
    max_rss_kib: int = 0
    halt: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        request = f"GET {self.path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
        while not self.halt.wait(PROBE_INTERVAL_S):
            self.max_rss_kib = max(self.max_rss_kib, tree_status_kib(self.pid, "VmRSS"))
            started = time.perf_counter()
            try:
                with open_socket(self.port, tls=self.tls) as sock:
                    sock.settimeout(PROBE_TIMEOUT_S)
                    sock.sendall(request)
                    status, _ = read_response(sock)
            except (OSError, ValueError, ssl.SSLError):
                status = 0
            elapsed = (time.perf_counter() - started) * 1000
            if status == 200 and elapsed < PROBE_TIMEOUT_S * 1000:
                self.latencies_ms.append(elapsed)
            else:
                self.failures += 1
                self.statuses[status] = self.statuses.get(status, 0) + 1

    def run_for(self, seconds: float) -> None:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        time.sleep(seconds)
        self.halt.set()
        thread.join(timeout=PROBE_TIMEOUT_S + 5)


@contextlib.contextmanager
def started(target: Target, bin_dir: Path, pin: bool) -> Iterator[tuple[int, int]]:
    """Start ``target``; yield (port, pid) once it answers; stop it on exit."""
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as name:
        workdir = Path(name)
        if target.setup is not None:
            target.setup(workdir)
        port = find_free_port()
        values = {"bin": bin_dir, "apps": APPS_DIR, "workdir": workdir, "host": HOST, "port": port}
        argv = pinned(target.argv.format(**values).split(), SERVER_CPU, pin)
        # BENCH_BAREHTTP_SRC=/other/checkout/src: that barehttp instead of this checkout's.
        python_path = [os.environ.get("BENCH_BAREHTTP_SRC", ""), str(APPS_DIR)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, python_path))}
        with (workdir / "server.log").open("wb") as log:
            process = subprocess.Popen(
                argv, cwd=APPS_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise BenchError(
                        f"{argv} exited: {(workdir / 'server.log').read_text()[-800:]}"
                    )
                try:
                    request = (
                        f"GET {target.probe_path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                    )
                    if exchange(port, request.encode(), tls=target.tls)[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise BenchError(f"{argv} not ready after 30 s")
                time.sleep(0.1)
            yield port, process.pid
        finally:
            stop_process_group(process, 10.0)


def measure(
    row: Row, target_name: str, bin_dir: Path, pin: bool, seconds: float
) -> dict[str, object]:
    target = TARGETS[target_name]
    with started(target, bin_dir, pin) as (port, pid):
        if row.before is not None:
            row.before(port)
        quiet = Probe(port, target.tls, target.probe_path, pid)
        quiet.run_for(BEFORE_S)
        attack = row.attack(seconds)
        probe = Probe(port, target.tls, target.probe_path, pid)
        attack.start(port)
        probe.run_for(seconds)
        attack.stop()
        if row.after is not None:
            row.after(port, attack)
    latencies = probe.latencies_ms
    refused = ", ".join(f"{n}x {s or 'no answer'}" for s, n in sorted(probe.statuses.items()))
    return {
        "attack": row.name,
        "server": target_name,
        "ok": len(latencies),
        "failed": probe.failures,
        "p50_ms": statistics.median(latencies) if latencies else None,
        "max_ms": max(latencies) if latencies else None,
        "quiet_p50_ms": statistics.median(quiet.latencies_ms) if quiet.latencies_ms else None,
        "rss_quiet_mib": quiet.max_rss_kib / 1024,
        "rss_max_mib": probe.max_rss_kib / 1024,
        "attack_seconds": seconds,
        "notes": attack.notes + (f"; legit client got {refused}" if refused else ""),
    }


def shown(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--attacks", help="comma-separated, default all: " + ",".join(r.name for r in ROWS)
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="attack length per row (1-60)")
    parser.add_argument("--no-install", action="store_true", help="skip venv and apt checks")
    args = parser.parse_args()
    if not 1 <= args.seconds <= 60:
        raise BenchError("--seconds must be from 1 to 60")
    wanted = set(args.attacks.split(",")) if args.attacks else {row.name for row in ROWS}
    unknown = wanted - {row.name for row in ROWS}
    if unknown:
        raise BenchError(f"unknown attacks: {', '.join(sorted(unknown))}")
    interrupt_on_signals()
    missing = [tool for tool in ("prlimit", "openssl") if shutil.which(tool) is None]
    if missing:
        raise BenchError(f"missing tools: {', '.join(missing)} (Debian: util-linux, openssl)")
    bin_dir = prepare([], install=not args.no_install)
    pin = can_pin()
    if pin:
        os.sched_setaffinity(0, {LOAD_CPU})
    results = []
    print("{:<46} {:<26} {:>9} {:>7} {:>8} {:>4} {:>5} {:>8}  notes".format(*HEADER))
    for row in ROWS:
        if row.name not in wanted:
            continue
        for target_name in row.targets:
            result = measure(row, target_name, bin_dir, pin, args.seconds)
            results.append(result)
            print(
                f"{row.title:<46} {target_name:<26} {shown(result['quiet_p50_ms'], '9.1f')} "
                f"{shown(result['p50_ms'], '7.1f')} "
                f"{shown(result['max_ms'], '8.1f')} {result['ok']:>4} {result['failed']:>5} "
                f"{shown(result['rss_max_mib'], '8.0f')}  {result['notes']}",
                flush=True,
            )
    path = write_results(
        "hostile",
        {
            "machine": machine_info(),
            "settings": {
                "seconds": args.seconds,
                "command": " ".join(["hostile.py", *sys.argv[1:]]),
            },
            "rows": results,
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        sys.exit(2)
