#!/usr/bin/env python3
"""Side-by-side throughput: barehttp and named peers under wrk, printed as ratios.

The machine is shared and noisy, so absolute figures mean little: every peer
is measured in the same run and the script prints ratios
(``barehttp/waitress keep-alive: 3.4x``). Servers are pinned to CPU 0 and wrk
to CPU 1 with ``taskset``; everything talks to 127.0.0.1 only.

Peers live in ``bench/.venv`` (built here from ``bench/requirements.txt``, with
barehttp as an editable install), never in the project's dependencies. Debian
tools (wrk, later nginx) are installed with apt when missing.

Adding a server: one ``ServerSpec`` in ``SERVERS``. Adding a scenario: one
``Scenario`` in ``SCENARIOS``. Grouping them, with the baseline the ratios are
taken against: one ``Suite`` in ``SUITES``. ``idle.py`` reuses the same
registry and process handling.

Usage::

    python3 bench/run.py                       # hello suite, 2 s warm-up + 8 s per run
    python3 bench/run.py --servers waitress,granian --duration 3 --warmup 1
    python3 bench/run.py --list
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import (
    LOAD_CPU,
    REPO_DIR,
    SERVER_CPU,
    BenchError,
    RunningServer,
    can_pin,
    installed_versions,
    interrupt_on_signals,
    machine_info,
    prepare,
    running_server,
    write_results,
)
from registry import SCENARIOS, SERVERS, SUITES, Comparison, Scenario, Target
from wrk_runner import WrkResult, measure

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"
NAME_WIDTH = max(12, *(len(name) for name in SERVERS))  # server column of the table and lines


# --------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Median over rounds for one (server, scenario); errors are summed."""

    server: str
    scenario: str
    requests_per_s: float
    errors: dict[str, int]
    rounds: int
    p99_latency_ms: float
    server_cpu_share: float
    others_cpu_share: float

    @property
    def is_clean(self) -> bool:
        return sum(self.errors.values()) == 0 and self.requests_per_s > 0


def summarize(results: Sequence[WrkResult]) -> list[Summary]:
    groups: dict[tuple[str, str], list[WrkResult]] = {}
    for result in results:
        groups.setdefault((result.server, result.scenario), []).append(result)
    summaries = []
    for (server, scenario), group in groups.items():
        errors: dict[str, int] = {}
        for result in group:
            for kind, count in result.errors.items():
                errors[kind] = errors.get(kind, 0) + count
        summaries.append(
            Summary(
                server=server,
                scenario=scenario,
                requests_per_s=statistics.median(r.requests_per_s for r in group),
                errors=errors,
                rounds=len(group),
                p99_latency_ms=statistics.median(r.latency_us["p99"] for r in group) / 1000,
                server_cpu_share=statistics.median(r.server_cpu_share for r in group),
                others_cpu_share=max(r.others_cpu_share for r in group),
            )
        )
    return summaries


def describe_errors(errors: dict[str, int]) -> str:
    parts = [f"{kind} {count}" for kind, count in errors.items() if count]
    return ", ".join(parts).replace("status", "non-2xx/3xx") or "-"


def format_table(
    summaries: Sequence[Summary],
    servers: Sequence[str],
    scenarios: Sequence[str],
    max_noise: float,
) -> str:
    by_key = {(s.server, s.scenario): s for s in summaries}
    header = (
        f"{'server':<{NAME_WIDTH}} {'scenario':<12} {'req/s':>10} {'p99 ms':>8}"
        f" {'srv cpu':>8} {'others':>7}  errors"
    )
    lines = [header, "-" * len(header)]
    for server in servers:
        for scenario in scenarios:
            summary = by_key.get((server, scenario))
            if summary is None:
                continue
            mark = "" if summary.is_clean else " !"
            mark += " ~" if summary.others_cpu_share > max_noise else ""
            lines.append(
                f"{server:<{NAME_WIDTH}} {scenario:<12} {summary.requests_per_s:>10.0f}"
                f" {summary.p99_latency_ms:>8.1f} {summary.server_cpu_share:>8.0%}"
                f" {summary.others_cpu_share:>7.0%}  {describe_errors(summary.errors)}{mark}"
            )
    return "\n".join(lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ratio:
    """``numerator/denominator`` req/s: the median of the per-round ratios.

    Each round measures the two back to back, so a ratio compares figures
    taken under the same background load; the spread shows how noisy it was.
    """

    numerator: str
    denominator: str
    scenario: str
    value: float
    low: float
    high: float
    rounds: int
    is_clean: bool  # every run behind it had no errors

    def __str__(self) -> str:
        spread = f"  (rounds {self.low:.2f}-{self.high:.2f})" if self.rounds > 1 else ""
        note = "" if self.is_clean else "  NOT CLEAN: errors in a run, see table"
        return (
            f"{self.numerator}/{self.denominator} {self.scenario}: {self.value:.2f}x{spread}{note}"
        )


def compute_ratios(
    results: Sequence[WrkResult], comparisons: Sequence[Comparison], scenarios: Sequence[str]
) -> list[Ratio]:
    """``baseline/peer`` for every comparison's peer and scenario, paired round by round."""
    by_key = {(r.server, r.scenario, r.round): r for r in results}
    rounds = sorted({r.round for r in results})
    ratios = []
    for scenario in scenarios:
        for comparison in comparisons:
            baseline = comparison.baseline
            for server in comparison.peers:
                pairs = [
                    (by_key[(baseline, scenario, n)], by_key[(server, scenario, n)])
                    for n in rounds
                    if (baseline, scenario, n) in by_key and (server, scenario, n) in by_key
                ]
                values = [
                    mine.requests_per_s / theirs.requests_per_s
                    for mine, theirs in pairs
                    if theirs.requests_per_s > 0
                ]
                if not values:
                    continue
                ratios.append(
                    Ratio(
                        numerator=baseline,
                        denominator=server,
                        scenario=scenario,
                        value=statistics.median(values),
                        low=min(values),
                        high=max(values),
                        rounds=len(values),
                        is_clean=all(mine.is_clean and theirs.is_clean for mine, theirs in pairs),
                    )
                )
    return ratios


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetCheck:
    """A ``Target`` measured: the baseline over the fastest peer, median of the rounds."""

    target: Target
    value: float
    fastest: str  # the peer that was fastest most often
    rounds: int
    is_clean: bool

    @property
    def is_met(self) -> bool:
        return self.value >= self.target.minimum

    def __str__(self) -> str:
        target = self.target
        against = (
            target.peers[0]
            if len(target.peers) == 1
            else f"fastest of {', '.join(target.peers)} (mostly {self.fastest})"
        )
        verdict = "met" if self.is_met else "MISSED"
        note = "" if self.is_clean else ", NOT CLEAN"
        return (
            f"target {target.baseline} >= {target.minimum:.2f}x {against} {target.scenario}:"
            f" {self.value:.2f}x, {verdict}{note}"
        )


def check_targets(results: Sequence[WrkResult], targets: Sequence[Target]) -> list[TargetCheck]:
    """Each target whose servers were all measured in some round, round by round."""
    by_key = {(r.server, r.scenario, r.round): r for r in results}
    rounds = sorted({r.round for r in results})
    checks = []
    for target in targets:
        values: list[float] = []
        winners: list[str] = []
        clean = True
        for n in rounds:
            mine = by_key.get((target.baseline, target.scenario, n))
            theirs = [by_key.get((peer, target.scenario, n)) for peer in target.peers]
            if mine is None or any(result is None for result in theirs):
                continue
            measured = [result for result in theirs if result is not None]
            fastest = max(measured, key=lambda result: result.requests_per_s)
            if fastest.requests_per_s <= 0:
                continue
            values.append(mine.requests_per_s / fastest.requests_per_s)
            winners.append(fastest.server)
            clean = clean and mine.is_clean and all(result.is_clean for result in measured)
        if values:
            checks.append(
                TargetCheck(
                    target=target,
                    value=statistics.median(values),
                    fastest=statistics.mode(winners),
                    rounds=len(values),
                    is_clean=clean,
                )
            )
    return checks


def describe_cpus(cpus: Sequence[int]) -> str:
    return ",".join(str(cpu) for cpu in cpus)


def all_cpus() -> tuple[int, ...]:
    return tuple(sorted(os.sched_getaffinity(0)))


def describe_placement(server_names: Sequence[str], pin: bool) -> str:
    """Where the servers and wrk run, said in the header line."""
    if not pin:
        return "UNPINNED (CPUs 0 and 1 not both available)"
    unpinned = [name for name in server_names if not SERVERS[name].is_pinned]
    pinned_names = [name for name in server_names if SERVERS[name].is_pinned]
    parts = []
    if pinned_names:
        parts.append(
            f"servers on CPU {SERVER_CPU}"
            if not unpinned
            else f"{', '.join(pinned_names)} on CPU {SERVER_CPU}"
        )
    if unpinned:
        parts.append(
            f"{'servers' if not pinned_names else ', '.join(unpinned)} NOT pinned"
            f" (CPUs {describe_cpus(all_cpus())}, shared with wrk)"
        )
    parts.append(f"wrk pinned to CPU {LOAD_CPU}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- command line


def split_names(value: str | None, known: dict[str, object], kind: str) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown {kind}: {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--suite", default="hello", choices=sorted(SUITES))
    parser.add_argument("--servers", help="comma-separated, overrides the suite's list")
    parser.add_argument("--scenarios", help="comma-separated, overrides the suite's list")
    parser.add_argument("--baseline", help="numerator of the ratios (default: the suite's)")
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="discarded, first round only")
    parser.add_argument("--rounds", type=int, default=3, help="repeat; order alternates; median")
    parser.add_argument(
        "--max-noise",
        type=float,
        default=0.15,
        help="repeat a run when other processes took more than this share of CPU 0",
    )
    parser.add_argument("--noise-retries", type=int, default=1, help="repeats at most")
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="worker threads for servers whose command uses {threads}",
    )
    parser.add_argument("--connections", type=int, help="override every scenario's connections")
    parser.add_argument("--no-install", action="store_true", help="skip venv and apt checks")
    parser.add_argument("--list", action="store_true", help="list servers, scenarios, suites")
    return parser.parse_args(argv)


def print_registry() -> None:
    print("servers:")
    for spec in SERVERS.values():
        print(f"  {spec.name:<{NAME_WIDTH}} {spec.notes}")
    print("scenarios:")
    for scenario in SCENARIOS.values():
        print(f"  {scenario.name:<12} {scenario.description}")
    print("suites:")
    for suite in SUITES.values():
        print(f"  {suite.name:<12} {suite.description}: {', '.join(suite.servers)}")


def measure_one(
    running: dict[str, RunningServer],
    name: str,
    scenario: Scenario,
    failures: dict[str, str],
    *,
    duration_s: float,
    warmup_s: float,
    round_index: int,
    pin: bool,
    max_noise: float,
    noise_retries: int,
) -> WrkResult | None:
    """One measurement, printed; a server that died is dropped from ``running``.

    When other processes took more than ``max_noise`` of the server's CPU, the
    run is repeated (up to ``noise_retries`` times) and the quietest one kept.
    """
    server = running[name]
    if server.process.poll() is not None:
        failures[name] = f"exited with {server.process.returncode}:\n{server.log_tail()}"
        print(f"  {name}: DIED: {failures[name]}", file=sys.stderr, flush=True)
        del running[name]
        return None
    best: WrkResult | None = None
    for attempt in range(1 + noise_retries):
        try:
            result = measure(
                server,
                scenario,
                duration_s=duration_s,
                warmup_s=warmup_s if attempt == 0 else 0.0,
                round_index=round_index,
                pin=pin,
            )
        except BenchError as error:
            failures[name] = str(error)
            print(f"  {name}: FAILED: {error}", file=sys.stderr, flush=True)
            return None
        is_noisy = result.others_cpu_share > max_noise
        retry_note = "  (noisy: again)" if is_noisy and attempt < noise_retries else ""
        print(
            f"  round {round_index + 1} {name:<{NAME_WIDTH}} {scenario.name:<12}"
            f" {result.requests_per_s:>10.0f} req/s  server cpu {result.server_cpu_share:4.0%}"
            f"  others on cpu {describe_cpus(result.server_cpus)} {result.others_cpu_share:4.0%}"
            f"  errors: {describe_errors(result.errors)}{retry_note}",
            flush=True,
        )
        if best is None or result.others_cpu_share < best.others_cpu_share:
            best = result
        if not is_noisy:
            break
    return best


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print_registry()
        return 0
    suite = SUITES[args.suite]
    server_names = split_names(args.servers, dict(SERVERS), "server") or list(suite.servers)
    scenario_names = split_names(args.scenarios, dict(SCENARIOS), "scenario") or list(
        suite.scenarios
    )
    if args.baseline is not None and args.baseline not in server_names:
        raise SystemExit(f"--baseline {args.baseline} is not among the servers")
    # e.g. --servers waitress,granian: ratios against the first
    comparisons = suite.pairs(server_names, args.baseline)
    scenarios = [SCENARIOS[name] for name in scenario_names]
    if args.connections is not None:
        scenarios = [dataclasses.replace(s, connections=args.connections) for s in scenarios]

    interrupt_on_signals()
    tools = ["wrk", *(tool for name in server_names for tool in SERVERS[name].tools)]
    try:
        bin_dir = prepare(tools, install=not args.no_install)
    except (BenchError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    pin = can_pin()
    if not pin:
        print("warning: CPUs 0 and 1 not both available; running unpinned", file=sys.stderr)

    print(
        f"suite {suite.name}: {', '.join(server_names)} x {', '.join(scenario_names)}; "
        f"{args.warmup:g} s warm-up + {args.duration:g} s, {args.rounds} round(s), "
        f"threads={args.threads}, {describe_placement(server_names, pin)}",
        flush=True,
    )
    results: list[WrkResult] = []
    failures: dict[str, str] = {}
    try:
        with contextlib.ExitStack() as stack:
            # All servers stay up (idle ones cost nothing) so that each round measures them
            # back to back, scenario by scenario: paired figures under the same noise.
            running: dict[str, RunningServer] = {}
            for name in server_names:
                try:
                    running[name] = stack.enter_context(
                        running_server(
                            SERVERS[name], bin_dir=bin_dir, threads=args.threads, pin=pin
                        )
                    )
                except BenchError as error:
                    failures[name] = str(error)
                    print(f"  {name}: FAILED to start: {error}", file=sys.stderr, flush=True)
            for round_index in range(args.rounds):
                for scenario in scenarios:
                    names = list(running) if round_index % 2 == 0 else list(running)[::-1]
                    for name in names:
                        result = measure_one(
                            running,
                            name,
                            scenario,
                            failures,
                            duration_s=args.duration,
                            warmup_s=args.warmup if round_index == 0 else 0.0,
                            round_index=round_index,
                            pin=pin,
                            max_noise=args.max_noise,
                            noise_retries=args.noise_retries,
                        )
                        if result is not None:
                            results.append(result)
    except KeyboardInterrupt:
        print("interrupted; servers stopped", file=sys.stderr)
        return 130

    summaries = summarize(results)
    ratios = compute_ratios(results, comparisons, scenario_names)
    checks = check_targets(results, suite.targets)
    print()
    print(format_table(summaries, server_names, scenario_names, args.max_noise))
    print()
    for ratio in ratios:
        print(ratio)
    if checks:
        print()
    for check in checks:
        print(check)
    if any(not s.is_clean for s in summaries):
        print("! = errors during the run: that figure is not clean")
    print(
        "srv cpu = CPU time the server used / wall time (median);"
        " others = CPU 0 time used by other processes (worst round): noise"
    )
    if any(not SERVERS[name].is_pinned for name in server_names) and pin:
        print(
            f"unpinned servers: srv cpu counts every CPU ({len(all_cpus()) * 100}% = all busy);"
            f" others = time other processes took on CPUs {describe_cpus(all_cpus())}, wrk's own"
            f" left out; wrk runs on CPU {LOAD_CPU}, competing with the server there"
        )
    if any(s.others_cpu_share > args.max_noise for s in summaries):
        print(f"~ = noisy: other processes took over {args.max_noise:.0%} of CPU 0 in a round")
    for name, message in failures.items():
        print(f"{name}: not measured ({message.splitlines()[0]})")

    payload: dict[str, object] = {
        "suite": suite.name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "max_noise": args.max_noise,
            "noise_retries": args.noise_retries,
            "threads": args.threads,
            "pinned": pin,
            "server_cpu": SERVER_CPU,
            "load_cpu": LOAD_CPU,
            "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        },
        "machine": machine_info(),
        "versions": installed_versions(bin_dir),
        "servers": {name: SERVERS[name].notes for name in server_names},
        "scenarios": {s.name: dataclasses.asdict(s) for s in scenarios},
        "runs": [
            {**dataclasses.asdict(r), "requests_per_s": r.requests_per_s, "clean": r.is_clean}
            for r in results
        ],
        "summary": [{**dataclasses.asdict(s), "clean": s.is_clean} for s in summaries],
        "ratios": [{**dataclasses.asdict(r), "text": str(r)} for r in ratios],
        "targets": [{**dataclasses.asdict(c), "met": c.is_met, "text": str(c)} for c in checks],
        "failures": failures,
    }
    print(f"results: {write_results(suite.name, payload).relative_to(REPO_DIR)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
