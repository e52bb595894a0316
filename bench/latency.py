#!/usr/bin/env python3
"""The latency tail under load: barehttp and its peers at 10 to 400 connections.

For each connection count and scenario (keep-alive, ``Connection: close``),
every server is run back to back under wrk (1 thread, pinned to CPU 1; servers
on CPU 0), in several rounds. Printed per run: req/s, p50/p90/p99/p99.9 and
the slowest request; then a table of medians over rounds with the spread of
req/s and p99, the ratios to granian, and the latency targets (at 50 and
200 keep-alive connections: req/s >= 1.0x granian's and p99 <= 2x granian's;
at 400: no request over 100 ms).

wrk is a closed loop (each connection sends its next request when the last
answer arrives): see bench/README.md for why it is used here and what that
means for the figures.

Variants put a changed barehttp beside the others in the same run::

    python3 bench/latency.py --variant "bh-t16=barehttp --threads 16"
    python3 bench/latency.py --variant "bh-si1=barehttp @switch=0.001"   # sys.setswitchinterval
    python3 bench/latency.py --variant "bh-x=barehttp @src=/tmp/copy/src" # another source tree

Usage::

    python3 bench/latency.py                      # 4 servers x 5 counts x 2 scenarios x 3 rounds
    python3 bench/latency.py --connections 50,200 --scenarios keep-alive --rounds 2
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shlex
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from harness import (
    APPS_DIR,
    LOAD_CPU,
    SERVER_CPU,
    BenchError,
    RunningServer,
    ServerSpec,
    can_pin,
    installed_versions,
    interrupt_on_signals,
    machine_info,
    prepare,
    running_server,
    write_results,
)
from registry import SCENARIOS, SERVERS
from wrk_runner import WrkResult, measure

DEFAULT_SERVERS = "barehttp,barehttp-wsgi,granian,uvicorn"
DEFAULT_CONNECTIONS = "10,50,100,200,400"
PEER = "granian"  # the ratios' denominator
# The latency targets, keep-alive: at these counts req/s >= 1.0x and p99 <= 2x the peer's ...
TARGET_CONNECTIONS = (50, 200)
TARGET_MIN_THROUGHPUT = 1.0
TARGET_MAX_P99 = 2.0
# ... and at this count no request slower than this.
TAIL_CONNECTIONS = 400
TAIL_MAX_MS = 100.0
PERCENTILES = ("p50", "p90", "p99", "p99.9", "max")
NOISY_SHARE = 0.15  # others took more of CPU 0 than this: the row is marked ~


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """The rounds of one (scenario, connections, server)."""

    scenario: str
    connections: int
    server: str
    runs: tuple[WrkResult, ...]

    def median(self, key: str) -> float:
        """Median over rounds of req/s or a percentile (ms)."""
        return statistics.median(_figure(run, key) for run in self.runs)

    def spread(self, key: str) -> tuple[float, float]:
        values = [_figure(run, key) for run in self.runs]
        return min(values), max(values)

    @property
    def errors(self) -> int:
        return sum(run.error_count for run in self.runs)

    @property
    def empty_runs(self) -> int:
        """Runs that got no answer at all (the server had no CPU, or hung)."""
        return sum(1 for run in self.runs if run.requests == 0)

    @property
    def noisy(self) -> bool:
        return any(run.others_cpu_share > NOISY_SHARE for run in self.runs)


def _figure(run: WrkResult, key: str) -> float:
    if key == "req/s":
        return run.requests_per_s
    if key == "cpu/req":
        return cpu_us_per_request(run)
    return run.latency_us[key] / 1000


def cpu_us_per_request(run: WrkResult) -> float:
    """The server's CPU time per answered request, in microseconds.

    Less sensitive to the machine's load than req/s: time the server waited
    for its CPU is not in it (cache and scheduler effects still are).
    """
    return run.server_cpu_s / run.requests * 1e6 if run.requests else 0.0


def make_variant(text: str) -> ServerSpec:
    """``NAME=BASE [ARG ...]``: BASE's spec under NAME, with ARGs added to its command line.

    ``@switch=S`` starts it through apps/barehttp_switch.py with the GIL switch
    interval set to S seconds; ``@src=DIR`` puts DIR (a copy of ``src/``) first
    on its PYTHONPATH.
    """
    name, equals, rest = text.partition("=")
    words = shlex.split(rest)
    if not equals or not name or not words or words[0] not in SERVERS:
        raise BenchError(f"--variant {text!r}: expected NAME=SERVER [ARG ...], SERVER known")
    spec = SERVERS[words[0]]
    argv, env = list(spec.argv), dict(spec.env)
    extra: list[str] = []
    for word in words[1:]:
        if word.startswith("@switch="):
            if not argv[0].endswith("/barehttp"):
                raise BenchError(f"--variant {text!r}: @switch works on barehttp servers only")
            argv[:1] = ["{bin}/python", "{apps}/barehttp_switch.py"]
            env["BENCH_SWITCH_INTERVAL_S"] = word.removeprefix("@switch=")
        elif word.startswith("@src="):
            env["PYTHONPATH"] = f"{word.removeprefix('@src=')}:{APPS_DIR}"
        else:
            extra.append(word)
    if extra:  # before the positional app argument, where the template has {extra}
        at = argv.index("{extra}") if "{extra}" in argv else len(argv)
        argv[at:at] = extra
    notes = f"{spec.notes}; variant: {' '.join(words[1:])}"
    return dataclasses.replace(
        spec, name=name, argv=tuple(argv), env=tuple(env.items()), notes=notes
    )


def run_all(
    servers: dict[str, RunningServer],
    scenarios: Sequence[str],
    connection_counts: Sequence[int],
    args: argparse.Namespace,
    pin: bool,
) -> list[WrkResult]:
    """Every (round, scenario, count, server); server order reversed every other round."""
    results: list[WrkResult] = []
    names = list(servers)
    for round_index in range(args.rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for scenario_name in scenarios:
            for connections in connection_counts:
                scenario = dataclasses.replace(SCENARIOS[scenario_name], connections=connections)
                for name in order:
                    label = f"{scenario_name}/{connections}"
                    result = None
                    for attempt in range(1 + args.noise_retries):
                        run = measure(
                            servers[name],
                            scenario,
                            duration_s=args.duration,
                            warmup_s=args.warmup if round_index == 0 and attempt == 0 else 0.0,
                            round_index=round_index,
                            pin=pin,
                        )
                        run = dataclasses.replace(run, scenario=label)
                        print(format_run(run), flush=True)
                        if result is None or run.others_cpu_share < result.others_cpu_share:
                            result = run  # the quietest attempt is kept
                        if run.others_cpu_share <= args.max_noise and run.requests > 0:
                            break
                        if attempt < args.noise_retries:
                            print("  (noisy or no answers: measured again)", flush=True)
                    assert result is not None
                    results.append(result)
    return results


def format_run(run: WrkResult) -> str:
    figures = " ".join(f"{key} {run.latency_us[key] / 1000:7.2f}" for key in PERCENTILES)
    errors = f" ERRORS {run.errors}" if run.error_count else ""
    return (
        f"round {run.round + 1} {run.scenario:<15} {run.server:<16} {run.requests_per_s:>9,.0f}"
        f" req/s  {figures} ms  cpu/req {cpu_us_per_request(run):5.1f} us"
        f"  srv cpu {run.server_cpu_share:4.0%}"
        f" others {run.others_cpu_share:4.0%}{errors}"
    )


def group(results: Sequence[WrkResult]) -> list[Cell]:
    cells: dict[tuple[str, str], list[WrkResult]] = {}
    for run in results:
        cells.setdefault((run.scenario, run.server), []).append(run)
    return [
        Cell(
            scenario=scenario.partition("/")[0],
            connections=int(scenario.partition("/")[2]),
            server=server,
            runs=tuple(runs),
        )
        for (scenario, server), runs in cells.items()
    ]


def format_table(cells: Sequence[Cell]) -> str:
    """Medians over rounds; req/s and p99 with their spread (low-high)."""
    lines = [
        f"{'scenario':<10} {'conns':>5} {'server':<16} {'req/s':>8} {'(low-high)':>15}"
        f" {'p50':>7} {'p90':>7} {'p99':>7} {'(low-high)':>15} {'p99.9':>7} {'max':>7}"
        f" {'cpu/req':>8}  (ms; cpu us)"
    ]
    for cell in cells:
        low, high = cell.spread("req/s")
        p99_low, p99_high = cell.spread("p99")
        lows = f"{low / 1000:.1f}k-{high / 1000:.1f}k"
        mark = (" ~" if cell.noisy else "") + (f"  ! {cell.errors} errors" if cell.errors else "")
        mark += f"  ! {cell.empty_runs} runs without answers" if cell.empty_runs else ""
        lines.append(
            f"{cell.scenario:<10} {cell.connections:>5} {cell.server:<16}"
            f" {cell.median('req/s'):>8,.0f} {lows:>15}"
            f" {cell.median('p50'):>7.2f} {cell.median('p90'):>7.2f} {cell.median('p99'):>7.2f}"
            f" {f'{p99_low:.1f}-{p99_high:.1f}':>15} {cell.median('p99.9'):>7.2f}"
            f" {max(run.latency_us['max'] for run in cell.runs) / 1000:>7.1f}"
            f" {cell.median('cpu/req'):>8.1f}{mark}"
        )
    return "\n".join(lines)


def round_ratios(cell: Cell, peer: Cell, key: str) -> list[float]:
    """``cell/peer`` of ``key`` for each round both have (runs back to back)."""
    peer_runs = {run.round: run for run in peer.runs}
    return [
        _figure(run, key) / _figure(peer_runs[run.round], key)
        for run in cell.runs
        if run.round in peer_runs and _figure(peer_runs[run.round], key) > 0
    ]


def format_ratios(cells: Sequence[Cell]) -> str:
    """Each server against the peer: req/s and p99 ratios, then the targets."""
    by_key = {(c.scenario, c.connections, c.server): c for c in cells}
    lines: list[str] = []
    for cell in cells:
        peer = by_key.get((cell.scenario, cell.connections, PEER))
        if peer is None or cell.server == PEER:
            continue
        throughput = round_ratios(cell, peer, "req/s")
        p99 = round_ratios(cell, peer, "p99")
        if not throughput or not p99:
            continue
        verdict = ""
        if cell.scenario == "keep-alive" and cell.connections in TARGET_CONNECTIONS:
            met = (
                statistics.median(throughput) >= TARGET_MIN_THROUGHPUT
                and statistics.median(p99) <= TARGET_MAX_P99
            )
            verdict = "  target met" if met else "  target MISSED"
        lines.append(
            f"{cell.server}/{PEER} {cell.scenario} {cell.connections:>3}: req/s"
            f" {statistics.median(throughput):.2f}x ({min(throughput):.2f}-{max(throughput):.2f}),"
            f" p99 {statistics.median(p99):.2f}x ({min(p99):.2f}-{max(p99):.2f}),"
            f" cpu/req {statistics.median(round_ratios(cell, peer, 'cpu/req')):.2f}x{verdict}"
        )
    for cell in cells:
        if cell.scenario == "keep-alive" and cell.connections == TAIL_CONNECTIONS:
            slowest = max(run.latency_us["max"] for run in cell.runs) / 1000
            verdict = "met" if slowest <= TAIL_MAX_MS else "MISSED"
            lines.append(
                f"{cell.server} keep-alive {TAIL_CONNECTIONS}: slowest request {slowest:.1f} ms"
                f" (target <= {TAIL_MAX_MS:.0f} ms: {verdict})"
            )
    return "\n".join(lines)


def parse_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("connection counts must be at least 1")
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=DEFAULT_SERVERS, help=f"default {DEFAULT_SERVERS}")
    parser.add_argument("--connections", type=parse_counts, default=DEFAULT_CONNECTIONS)
    parser.add_argument("--scenarios", default="keep-alive,close")
    parser.add_argument("--rounds", type=int, default=3, help="repeats (default 3)")
    parser.add_argument("--duration", type=float, default=5.0, help="s per run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0, help="s, first round (default 1)")
    parser.add_argument(
        "--max-noise",
        type=float,
        default=0.5,
        help="a run where other processes took more of CPU 0 than this share is measured"
        " again (default 0.5)",
    )
    parser.add_argument(
        "--noise-retries", type=int, default=1, help="how many times, keeping the quietest"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="'NAME=SERVER ARGS'",
        help="a changed copy of SERVER, also run (repeatable; see the module docstring)",
    )
    parser.add_argument("--no-install", action="store_true", help="no apt, no venv build")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    connection_counts: list[int] = (
        parse_counts(args.connections) if isinstance(args.connections, str) else args.connections
    )
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0 or args.noise_retries < 0:
        print(
            "latency.py: --rounds and --duration must be at least 1, --warmup and"
            " --noise-retries at least 0",
            file=sys.stderr,
        )
        return 2
    interrupt_on_signals()
    try:
        specs = {**SERVERS, **{v.name: v for v in map(make_variant, args.variant)}}
        names = [n for n in args.servers.split(",") if n] + [
            v.partition("=")[0] for v in args.variant
        ]
        scenarios = [s for s in args.scenarios.split(",") if s]
        unknown = [n for n in names if n not in specs] + [
            s for s in scenarios if s not in ("keep-alive", "close")
        ]
        if unknown:
            raise BenchError(f"unknown servers or scenarios: {unknown}")
        bin_dir = prepare(["wrk"], install=not args.no_install)
        pin = can_pin()
        if not pin:
            print("warning: CPUs 0 and 1 not both available: running unpinned", file=sys.stderr)
        print(
            f"servers on CPU {SERVER_CPU}, wrk (1 thread) on CPU {LOAD_CPU}; {args.rounds} rounds"
            f" x {args.duration:.0f} s; connections {connection_counts}",
            flush=True,
        )
        with contextlib.ExitStack() as stack:
            servers = {
                name: stack.enter_context(
                    running_server(specs[name], bin_dir=bin_dir, threads=64, pin=pin)
                )
                for name in names
            }
            results = run_all(servers, scenarios, connection_counts, args, pin)
    except (BenchError, KeyboardInterrupt) as error:
        print(f"latency.py: {error}", file=sys.stderr)
        return 1
    cells = group(results)
    print()
    print(format_table(cells))
    print()
    print(format_ratios(cells))
    path = write_results(
        "latency",
        {
            "settings": vars(args) | {"connections": connection_counts},
            "machine": machine_info(),
            "versions": installed_versions(bin_dir),
            "servers": {name: specs[name].notes for name in names},
            "runs": [dataclasses.asdict(run) for run in results],
        },
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
