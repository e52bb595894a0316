#!/usr/bin/env python3
"""10,000 idle WebSockets: what they cost each server, and whether a new client gets in.

For each server (``--servers``: barehttp asgi and barehttp.web's parked echo,
then uvicorn with ``websockets``; the same echo, bench/apps/echo_asgi.py and
echo_native.py) pinned to CPU 0, client processes pinned to CPU 1 (``--clients``,
2: 5,000 sockets each) open ``--connections`` WebSockets and hold them idle.
Reported:

(a) the server's VmRSS (/proc/PID/status, summed over its processes), threads
    and open descriptors, before and with the idle connections open, and its
    CPU time while they are all quiet (5 s);
(b) a new client's time, ``--probes`` (20) times each, one after another, before
    and with the idle connections open: connect + ``GET /`` + whole response, and
    connect + WebSocket handshake + one 16 B echo;
(c) that the idle ones are still open WebSockets: each echoes one message.

The floors for barehttp: 10,000 idle WebSockets in less than 200 MB
(200,000,000 bytes) of RSS, a new client served in less than 100 ms (p50 and max).
Each barehttp server gets ``--max-connections`` room for the probes. The soft
RLIMIT_NOFILE is raised to the hard one here; servers and clients inherit it.
barehttp.web budgets two descriptors a connection (server/fd_limits.py: its
socket and a file its outbox may send), so under a hard limit of 20,000 it holds
fewer than 10,000: it is then given as many as fit (printed), not a failure.
Every wait has a deadline; the clients exit by themselves after ``--max-seconds``.

Usage::

    python3 bench/websocket_idle.py                        # all three; 10,000 each
    python3 bench/websocket_idle.py --servers barehttp-web,uvicorn --connections 2000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from descriptors import count_fds, hard_fd_limit, raise_fd_limit
from harness import (
    LOAD_CPU,
    SERVER_CPU,
    BenchError,
    RunningServer,
    ServerSpec,
    can_pin,
    interrupt_on_signals,
    machine_info,
    prepare,
    running_server,
    tree_cpu_seconds,
    tree_status_kib,
    tree_threads,
    write_results,
)
from registry import command
from websocket_probes import (
    http_probe,
    parse_counts,
    start_holders,
    time_probes,
    websocket_probe,
)

RSS_FLOOR_BYTES = 200_000_000  # floor: 10,000 idle WebSockets in < 200 MB
LATENCY_FLOOR_MS = 100.0  # floor: a new client served in < 100 ms
OPEN_DEADLINE_S = 120.0  # for all clients to report their connections open
ECHO_DEADLINE_S = 120.0
ECHO_APP = "echo_asgi:app"
IDLE_CPU_WINDOW_S = 5.0  # the server's CPU time is read over this, all connections idle
# barehttp.web's descriptor budget (server/fd_limits.py): per connection, and kept spare.
NATIVE_DESCRIPTORS_PER_CONNECTION = 2
NATIVE_SPARE_DESCRIPTORS = 64 + 64  # Limits.fd_reserve_count, and what the process has open
PROBE_ROOM = 100  # connections left to the probes under a server's cap

SERVERS = {
    "barehttp-asgi": ServerSpec(
        name="barehttp-asgi",
        argv=command(
            "{bin}/barehttp asgi --host {host} --port {port} --no-access-log --lifespan off"
            f" --log-level WARNING {{extra}} {ECHO_APP}"
        ),
        notes="barehttp asgi, 1 process, asyncio, its own WebSocket stack (pure Python)",
    ),
    "barehttp-web": ServerSpec(
        name="barehttp-web",
        argv=command("{bin}/python {apps}/echo_native.py --host {host} --port {port} {extra}"),
        notes="barehttp.web, 1 process, parked handlers: one epoll thread, the pool (64 threads)",
    ),
    "barehttp-web-2w": ServerSpec(
        name="barehttp-web-2w",
        argv=command(
            "{bin}/python {apps}/echo_native.py --host {host} --port {port} --workers 2 {extra}"
        ),
        notes="barehttp.web, 2 worker processes (a descriptor budget each), parked handlers",
    ),
    "uvicorn": ServerSpec(
        name="uvicorn",
        argv=command(
            "{bin}/uvicorn --host {host} --port {port} --workers 1 --lifespan off"
            " --no-access-log --log-level warning --http h11 --loop asyncio --ws websockets"
            f" {{extra}} {ECHO_APP}"
        ),
        notes="uvicorn 0.54.0, 1 worker, h11 + asyncio, websockets 17.4",
    ),
}


def extra_args(name: str, connections: int) -> list[str]:
    """Room for the probes above the idle ones, where the server has a connection cap."""
    if name.startswith("barehttp"):
        return ["--max-connections", str(connections + PROBE_ROOM)]
    return []  # uvicorn: no cap unless --limit-concurrency is given


def connections_for(name: str, wanted: int, fd_limit: int) -> int:
    """``wanted``, or for barehttp.web as many as fit its descriptor budget with the probes."""
    if not name.startswith("barehttp-web"):
        return wanted
    fitting = (fd_limit - NATIVE_SPARE_DESCRIPTORS) // NATIVE_DESCRIPTORS_PER_CONNECTION
    workers = 2 if name.endswith("-2w") else 1  # each worker process has its own limit
    return min(wanted, workers * (fitting - PROBE_ROOM))


# --------------------------------------------------------------------------- one server


@dataclass(slots=True)
class Report:
    server: str
    notes: str
    extra_args: list[str]
    connections_wanted: int
    connections_open: int = 0
    open_failures: int = 0
    open_seconds: float = 0.0
    rss_before_kib: int = 0
    rss_after_kib: int = 0
    threads_before: int = 0
    threads_after: int = 0
    fds_before: int = 0
    fds_after: int = 0
    idle_cpu_share: float = 0.0  # of a core, with them all open and quiet
    http_before_ms: list[float] = field(default_factory=list)
    http_before_failures: int = 0
    websocket_before_ms: list[float] = field(default_factory=list)
    websocket_before_failures: int = 0
    http_idle_ms: list[float] = field(default_factory=list)
    http_idle_failures: int = 0
    websocket_idle_ms: list[float] = field(default_factory=list)
    websocket_idle_failures: int = 0
    echoed: int = 0
    echo_failures: int = 0
    server_exit: str = ""

    @property
    def rss_per_connection_kib(self) -> float:
        if not self.connections_open:
            return 0.0
        return (self.rss_after_kib - self.rss_before_kib) / self.connections_open


def measure(server: RunningServer, report: Report, args: argparse.Namespace, pin: bool) -> None:
    port, pid = server.context.port, server.pid
    report.http_before_ms, report.http_before_failures = time_probes(http_probe, port, args.probes)
    report.websocket_before_ms, report.websocket_before_failures = time_probes(
        websocket_probe, port, args.probes
    )
    time.sleep(0.5)
    report.rss_before_kib = tree_status_kib(pid, "VmRSS")
    report.threads_before = tree_threads(pid)
    report.fds_before = count_fds(pid)
    started = time.monotonic()
    holders = start_holders(port, report.connections_wanted, args.clients, args.max_seconds, pin)
    try:
        deadline = started + OPEN_DEADLINE_S
        lines = [holder.read_line(deadline) for holder in holders]
        report.open_seconds = time.monotonic() - started
        report.connections_open, report.open_failures = parse_counts(lines, "opened")
        report.open_failures += (
            report.connections_wanted - report.connections_open - report.open_failures
        )
        time.sleep(1.0)  # let the server settle
        cpu_before, window_start = tree_cpu_seconds(pid), time.monotonic()
        time.sleep(IDLE_CPU_WINDOW_S)  # what holding them costs: pings, timer sweeps
        report.idle_cpu_share = (tree_cpu_seconds(pid) - cpu_before) / (
            time.monotonic() - window_start
        )
        report.rss_after_kib = tree_status_kib(pid, "VmRSS")
        report.threads_after = tree_threads(pid)
        report.fds_after = count_fds(pid)
        report.http_idle_ms, report.http_idle_failures = time_probes(http_probe, port, args.probes)
        report.websocket_idle_ms, report.websocket_idle_failures = time_probes(
            websocket_probe, port, args.probes
        )
        for holder in holders:
            holder.send("echo")
        deadline = time.monotonic() + ECHO_DEADLINE_S
        lines = [holder.read_line(deadline) for holder in holders]
        report.echoed, report.echo_failures = parse_counts(lines, "echoed")
    finally:
        for holder in holders:
            holder.stop()
    if server.process.poll() is not None:
        report.server_exit = f"exited with {server.process.returncode}: {server.log_tail(5)}"


# --------------------------------------------------------------------------- output


def summary_ms(latencies: Sequence[float], failures: int) -> str:
    if not latencies:
        return f"no answer ({failures} failed)"
    text = f"p50 {statistics.median(latencies):6.2f} ms, max {max(latencies):6.2f} ms"
    return text + (f", {failures} FAILED" if failures else "")


def print_report(report: Report) -> None:
    mib = 1024
    print(f"{report.server}: {report.notes}; {' '.join(report.extra_args) or 'defaults'}")
    if report.server_exit:
        print(f"  SERVER DIED, figures void: {report.server_exit}")
    print(
        f"  idle WebSockets open: {report.connections_open}/{report.connections_wanted}"
        f" in {report.open_seconds:.1f} s ({report.open_failures} failed);"
        f" each echoed once: {report.echoed} ({report.echo_failures} failed)"
    )
    print(
        f"  RSS {report.rss_before_kib / mib:.1f} MiB -> {report.rss_after_kib / mib:.1f} MiB"
        f" ({report.rss_per_connection_kib:.1f} KiB per connection);"
        f" threads {report.threads_before} -> {report.threads_after};"
        f" fds {report.fds_before} -> {report.fds_after};"
        f" CPU while idle {report.idle_cpu_share:.1%} of a core"
    )
    r = report
    for label, before, during in (
        ("HTTP GET", (r.http_before_ms, r.http_before_failures),
         (r.http_idle_ms, r.http_idle_failures)),
        ("WebSocket handshake + echo", (r.websocket_before_ms, r.websocket_before_failures),
         (r.websocket_idle_ms, r.websocket_idle_failures)),
    ):  # fmt: skip
        print(f"  new client, {label}:")
        print(f"    none idle:            {summary_ms(*before)}")
        print(f"    {r.connections_open:>6} idle open:     {summary_ms(*during)}")


def print_floors(report: Report) -> None:
    """The floors, for barehttp."""
    rss_bytes = report.rss_after_kib * 1024
    rss_ok = rss_bytes < RSS_FLOOR_BYTES and report.connections_open == report.connections_wanted
    print(
        f"floor: {report.connections_wanted} idle WebSockets in < 200 MB:"
        f" {'met' if rss_ok else 'NOT met'} ({rss_bytes / 1e6:.1f} MB,"
        f" {report.connections_open} open)"
    )
    probes = report.http_idle_ms + report.websocket_idle_ms
    failures = report.http_idle_failures + report.websocket_idle_failures
    worst = max(probes) if probes else float("inf")
    latency_ok = not failures and worst < LATENCY_FLOOR_MS
    print(
        f"floor: new client served in < {LATENCY_FLOOR_MS:.0f} ms with them open:"
        f" {'met' if latency_ok else 'NOT met'} (slowest of {len(probes)} probes {worst:.2f} ms,"
        f" {failures} failed)"
    )


def print_ratios(reports: Sequence[Report]) -> None:
    """Each barehttp server against each peer (RSS per connection: counts may differ)."""
    valid = [report for report in reports if not report.server_exit]
    ours = [report for report in valid if report.server.startswith("barehttp")]
    for base in ours:
        for other in (report for report in valid if report not in ours):
            pairs = (
                ("RSS per idle WebSocket", base.rss_per_connection_kib,
                 other.rss_per_connection_kib),
                ("RSS with them open", base.rss_after_kib, other.rss_after_kib),
                ("new-client WebSocket p50 with them open",
                 statistics.median(base.websocket_idle_ms or [0.0]),
                 statistics.median(other.websocket_idle_ms or [0.0])),
            )  # fmt: skip
            for label, mine, theirs in pairs:
                if mine > 0 and theirs > 0:
                    print(f"{base.server}/{other.server} {label}: {mine / theirs:.2f}x")


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--servers",
        default="barehttp-asgi,barehttp-web,uvicorn",
        help=f"comma-separated, of {', '.join(SERVERS)}",
    )
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=2, help="client processes holding them")
    parser.add_argument("--probes", type=int, default=20, help="new clients timed per phase")
    parser.add_argument(
        "--max-seconds", type=int, default=600, help="the clients exit by themselves after this"
    )
    parser.add_argument("--no-install", action="store_true", help="use bench/.venv as it is")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown or args.connections < 1 or args.clients < 1 or args.probes < 1:
        parser.error(f"unknown server(s) {unknown} or a count below 1 (known: {list(SERVERS)})")
    interrupt_on_signals()
    try:
        bin_dir = prepare([], install=not args.no_install)
        # The server holds every connection; each client a share of them.
        fd_limit = raise_fd_limit(args.connections + 1_024)
        hard_limit = hard_fd_limit()
    except (BenchError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    pin = can_pin()
    if pin:
        os.sched_setaffinity(0, {LOAD_CPU})
    else:
        print("warning: cannot pin to CPUs 0 and 1; running unpinned", file=sys.stderr)
    print(
        f"{args.connections} idle WebSockets per server from {args.clients} client processes;"
        f" {args.probes} probes per phase; fd limit {fd_limit}; servers on CPU {SERVER_CPU},"
        f" clients and probes on CPU {LOAD_CPU}",
        flush=True,
    )
    reports: list[Report] = []
    failures: dict[str, str] = {}
    try:
        for name in names:
            spec = SERVERS[name]
            connections = connections_for(name, args.connections, hard_limit)
            if connections < args.connections:
                print(
                    f"{name}: {args.connections} do not fit: {NATIVE_DESCRIPTORS_PER_CONNECTION}"
                    f" descriptors a connection (server/fd_limits.py) under the hard open files"
                    f" limit of {hard_limit}; holding {connections}",
                    flush=True,
                )
            extra = extra_args(name, connections)
            report = Report(
                server=name, notes=spec.notes, extra_args=extra, connections_wanted=connections
            )
            try:
                with running_server(
                    spec, bin_dir=bin_dir, threads=1, pin=pin, extra_args=extra
                ) as server:
                    measure(server, report, args, pin)
            except BenchError as error:
                failures[name] = str(error)
                print(f"{name}: FAILED: {error}", file=sys.stderr, flush=True)
                continue
            reports.append(report)
            print_report(report)
            if name.startswith("barehttp"):
                print_floors(report)
    except KeyboardInterrupt:
        print("interrupted; servers and clients stopped", file=sys.stderr)
        return 130
    print()
    print_ratios(reports)
    path = write_results(
        "websocket-idle",
        {
            "settings": {
                "connections": args.connections,
                "clients": args.clients,
                "probes": args.probes,
                "pinned": pin,
            },
            "machine": machine_info(),
            "reports": [
                {**asdict(r), "rss_per_connection_kib": r.rss_per_connection_kib} for r in reports
            ],
            "failures": failures,
        },
    )
    print(f"results: {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
