#!/usr/bin/env python3
"""Idle keep-alive connections: what they cost a server, and whether a new client still gets in.

For each server (default: barehttp and waitress), opens ``--connections``
(2,000) keep-alive connections on 127.0.0.1; each sends one request, reads
the response and then stays open, idle. Measures:

(a) the server's resident memory (VmRSS from /proc/PID/status, summed over
    its processes) before and after, with its thread and fd counts;
(b) the latency of a fresh client doing one request (``--probes`` times,
    median/max), first with no idle connections, then with all of them open;

then, ``--hold`` seconds later, checks each idle connection: did the server
close it (idle timeout), or does it still answer a second request?

Every server gets the same idle timeout (``--idle-timeout``, 60 s) where it
has a flag for one, and waitress gets a connection limit above the count (its
default of 100 would leave the rest in the accept queue). Servers run pinned
to CPU 0, this client to CPU 1. Every step has a deadline.

Usage::

    python3 bench/idle.py                                  # barehttp, waitress
    python3 bench/idle.py --servers waitress,granian --connections 500
    python3 bench/idle.py --servers barehttp --idle-timeout 2 --hold 4   # timeout closes them
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

from descriptors import count_fds, raise_fd_limit
from harness import (
    LOAD_CPU,
    SERVER_CPU,
    BenchError,
    RunningServer,
    can_pin,
    interrupt_on_signals,
    machine_info,
    prepare,
    running_server,
    tree_status_kib,
    tree_threads,
    write_results,
)
from idle_client import (
    check_idle_connections,
    open_idle_connections,
    probe_latencies_ms,
)
from registry import SERVERS

FD_HEADROOM = 1_024  # descriptors beyond the idle connections (probes, pipes, the venv)


# --------------------------------------------------------------------------- per-server flags


def idle_args(name: str, bin_dir: os.PathLike[str], connections: int, timeout_s: int) -> list[str]:
    """Extra argv so each server keeps ``connections`` idle for ``timeout_s`` seconds.

    Servers without a flag keep their default; the report says which.
    """
    limit = connections + 100
    if name == "barehttp":
        if has_flag([f"{os.fspath(bin_dir)}/barehttp", "hello"], "--idle-timeout"):
            return ["--idle-timeout", str(timeout_s), "--max-connections", str(limit)]
        return []
    if name == "waitress":
        # connection_limit defaults to 100; channel_timeout (idle) to 120 s. Without poll(),
        # waitress uses select() and dies at FD_SETSIZE (1,024 descriptors).
        return [
            f"--connection-limit={limit}",
            f"--channel-timeout={timeout_s}",
            "--asyncore-use-poll",
        ]
    if name == "uvicorn":
        return ["--timeout-keep-alive", str(timeout_s)]
    if name == "granian":
        # Backpressure (concurrent connections per worker) defaults to backlog/workers = 1024;
        # the HTTP/1 header read timeout (ms, at most 60 s) also ends idle keep-alive.
        header_timeout_ms = min(60_000, timeout_s * 1000)
        return [f"--backpressure={limit}", f"--http1-header-read-timeout={header_timeout_ms}"]
    return []


def has_flag(argv: Sequence[str], flag: str) -> bool:
    """True if ``argv --help`` mentions ``flag``."""
    completed = subprocess.run(
        [*argv, "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    return flag in completed.stdout


# --------------------------------------------------------------------------- one server


@dataclass(slots=True)
class IdleReport:
    server: str
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
    probe_before_ms: list[float] = field(default_factory=list)
    probe_before_failures: int = 0
    probe_idle_ms: list[float] = field(default_factory=list)
    probe_idle_failures: int = 0
    check_after_s: float = 0.0  # age of the newest idle connection at the check
    oldest_idle_s: float = 0.0  # age of the oldest
    closed_by_server: int = 0
    answered_again: int = 0
    failed_again: dict[int, int] = field(default_factory=dict)  # status -> count, 0 = none
    server_exit: str = ""  # set if the server died during the measurement, with its log tail

    @property
    def rss_per_connection_kib(self) -> float:
        if not self.connections_open:
            return 0.0
        return (self.rss_after_kib - self.rss_before_kib) / self.connections_open


def measure_idle(
    server: RunningServer, report: IdleReport, *, probes: int, hold_s: float
) -> IdleReport:
    port, pid = server.context.port, server.pid
    report.probe_before_ms, report.probe_before_failures = probe_latencies_ms(port, probes)
    time.sleep(0.5)
    report.rss_before_kib = tree_status_kib(pid, "VmRSS")
    report.threads_before = tree_threads(pid)
    report.fds_before = count_fds(pid)

    started = time.monotonic()
    connections, report.open_failures = open_idle_connections(port, report.connections_wanted)
    report.open_seconds = time.monotonic() - started
    report.connections_open = len(connections)
    try:
        time.sleep(1.0)  # let the server settle (buffers freed, workers parked)
        report.rss_after_kib = tree_status_kib(pid, "VmRSS")
        report.threads_after = tree_threads(pid)
        report.fds_after = count_fds(pid)
        report.probe_idle_ms, report.probe_idle_failures = probe_latencies_ms(port, probes)
        time.sleep(hold_s)
        now = time.monotonic()
        if connections:
            report.check_after_s = now - max(c.idle_since for c in connections)
            report.oldest_idle_s = now - min(c.idle_since for c in connections)
        liveness = check_idle_connections(connections, port)
        report.closed_by_server = liveness.closed_by_server
        report.answered_again = liveness.answered_again
        report.failed_again = liveness.failed_again
    finally:
        for connection in connections:
            connection.sock.close()
    if server.process.poll() is not None:
        report.server_exit = f"exited with {server.process.returncode}: {server.log_tail(5)}"
    return report


def format_latency(latencies: Sequence[float], failures: int) -> str:
    if not latencies:
        return f"no answer ({failures} failed)"
    text = f"median {statistics.median(latencies):.2f} ms, max {max(latencies):.2f} ms"
    return text + (f", {failures} failed" if failures else "")


def describe_failures(failed: dict[int, int]) -> str:
    if not failed:
        return ""
    parts = [f"{count} x {status or 'no answer'}" for status, count in sorted(failed.items())]
    return " (" + ", ".join(parts) + ")"


def print_report(report: IdleReport) -> None:
    mib = 1024
    timeout_note = (
        f"idle timeout set by {' '.join(report.extra_args)}"
        if report.extra_args
        else "server's default idle timeout (no flag used)"
    )
    print(f"{report.server}: {timeout_note}")
    if report.server_exit:
        print(f"  SERVER DIED during the run, figures below are void: {report.server_exit}")
    print(
        f"  idle connections open: {report.connections_open}/{report.connections_wanted}"
        f" in {report.open_seconds:.1f} s ({report.open_failures} failed)"
    )
    print(
        f"  RSS {report.rss_before_kib / mib:.1f} MiB -> {report.rss_after_kib / mib:.1f} MiB"
        f" ({(report.rss_after_kib - report.rss_before_kib) / mib:+.1f} MiB,"
        f" {report.rss_per_connection_kib:.1f} KiB per connection);"
        f" threads {report.threads_before} -> {report.threads_after};"
        f" fds {report.fds_before} -> {report.fds_after}"
    )
    print(
        "  new client, no idle connections: "
        + format_latency(report.probe_before_ms, report.probe_before_failures)
    )
    print(
        f"  new client, {report.connections_open} idle open: "
        + format_latency(report.probe_idle_ms, report.probe_idle_failures)
    )
    verdict = "mixed"
    if report.answered_again == report.connections_open:
        verdict = "all still alive"
    elif report.closed_by_server == report.connections_open:
        verdict = "all closed by the server"
    print(
        f"  check {report.check_after_s:.1f} s after the last went idle"
        f" (oldest {report.oldest_idle_s:.1f} s): {verdict}:"
        f" {report.answered_again} answered a second request,"
        f" {report.closed_by_server} closed by the server,"
        f" {sum(report.failed_again.values())} failed{describe_failures(report.failed_again)}"
    )


def print_ratios(reports: Sequence[IdleReport]) -> None:
    valid = [report for report in reports if not report.server_exit]
    if len(valid) < 2:
        return
    base = valid[0]
    for other in valid[1:]:
        pairs = (
            ("RSS per idle connection", base.rss_per_connection_kib, other.rss_per_connection_kib),
            (
                "new-client median latency with idle open",
                statistics.median(base.probe_idle_ms) if base.probe_idle_ms else 0.0,
                statistics.median(other.probe_idle_ms) if other.probe_idle_ms else 0.0,
            ),
        )
        for label, mine, theirs in pairs:
            if mine > 0 and theirs > 0:
                print(f"{base.server}/{other.server} {label}: {mine / theirs:.2f}x")


# --------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--servers", default="barehttp,waitress", help="comma-separated")
    parser.add_argument("--connections", type=int, default=2_000)
    parser.add_argument("--probes", type=int, default=20, help="fresh requests timed each phase")
    parser.add_argument("--hold", type=float, default=2.0, help="seconds idle before the check")
    parser.add_argument("--idle-timeout", type=int, default=60, help="passed where supported")
    parser.add_argument("--threads", type=int, default=4, help="barehttp/waitress threads")
    parser.add_argument("--no-install", action="store_true", help="skip venv and apt checks")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        raise SystemExit(f"unknown server: {', '.join(unknown)} (known: {', '.join(SERVERS)})")
    interrupt_on_signals()
    try:
        bin_dir = prepare([], install=not args.no_install)
        fd_limit = raise_fd_limit(args.connections + args.probes + FD_HEADROOM)
    except (BenchError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    pin = can_pin()
    if pin:
        os.sched_setaffinity(0, {LOAD_CPU})
    else:
        print("warning: CPUs 0 and 1 not both available; running unpinned", file=sys.stderr)
    print(
        f"{args.connections} idle keep-alive connections per server; {args.probes} probes;"
        f" hold {args.hold:g} s; fd limit {fd_limit}; servers on CPU {SERVER_CPU},"
        f" client on CPU {LOAD_CPU}",
        flush=True,
    )

    reports: list[IdleReport] = []
    failures: dict[str, str] = {}
    try:
        for name in names:
            extra = idle_args(name, bin_dir, args.connections, args.idle_timeout)
            report = IdleReport(server=name, extra_args=extra, connections_wanted=args.connections)
            try:
                with running_server(
                    SERVERS[name], bin_dir=bin_dir, threads=args.threads, pin=pin, extra_args=extra
                ) as server:
                    measure_idle(server, report, probes=args.probes, hold_s=args.hold)
            except BenchError as error:
                failures[name] = str(error)
                print(f"{name}: FAILED: {error}", file=sys.stderr, flush=True)
                continue
            reports.append(report)
            print_report(report)
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130

    print()
    print_ratios(reports)
    payload: dict[str, object] = {
        "script": "idle",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {
            "connections": args.connections,
            "probes": args.probes,
            "hold_s": args.hold,
            "idle_timeout_s": args.idle_timeout,
            "threads": args.threads,
            "pinned": pin,
        },
        "machine": machine_info(),
        "reports": [
            {**asdict(r), "rss_per_connection_kib": r.rss_per_connection_kib} for r in reports
        ],
        "failures": failures,
    }
    path = write_results("idle", payload)
    print(f"results: {path.name} in bench/results/")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
