#!/usr/bin/env python3
"""WebSocket echo round trips per second: barehttp (asgi, and barehttp.web) vs uvicorn.

The same ASGI app (bench/apps/echo_asgi.py) under ``barehttp asgi`` and uvicorn
(websockets, wsproto, uvloop), and its barehttp.web twin (echo_native.py: a
parked handler, each message's callback run on the worker pool), one process
each, pinned to CPU 0; the same load client (websocket_load.py, its own process,
pinned to CPU 1): ``--connections`` (50) WebSockets, each sending a message and
waiting for its echo before the next. Two messages: 16 B of text and 4 KiB of
binary. Rounds alternate the servers' order, so that noise from other work on
the machine falls on all of them. Prints round trips per second per run, with
the server's CPU share, the client's, and what other processes took of CPU 0
(a point where they took more than ``--max-noise``, 20%, is measured again up
to ``--noise-retries`` times and the quietest kept); then medians, and
each barehttp server's ratio to each peer, per wall second and per second of server CPU
time (the figure other load disturbs least).

Usage::

    python3 bench/websocket_echo.py                     # 2 rounds, 1 s warm-up + 3 s per point
    python3 bench/websocket_echo.py --rounds 3 --duration 5
    python3 bench/websocket_echo.py --servers barehttp-web,uvicorn-websockets --cases text-16
    python3 bench/websocket_echo.py --servers barehttp-web --compare-src /tmp/before/src
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from harness import (
    BENCH_DIR,
    LOAD_CPU,
    SERVER_CPU,
    BenchError,
    RunningServer,
    ServerSpec,
    can_pin,
    cpu_busy_seconds,
    installed_versions,
    interrupt_on_signals,
    machine_info,
    pinned,
    prepare,
    running_server,
    tree_cpu_seconds,
    write_results,
)
from registry import command

BASELINES = ("barehttp-asgi", "barehttp-web")  # the ratios' numerators
COMPARE = "barehttp-web-compare"  # --compare-src: barehttp-web from another src/
NATIVE_THREADS = 8  # barehttp.web's worker pool: threads running the callbacks
ECHO_APP = "echo_asgi:app"
UVICORN = (
    "{bin}/uvicorn --host {host} --port {port} --workers 1 --lifespan off --no-access-log"
    " --log-level warning"
)
SERVERS = {
    spec.name: spec
    for spec in (
        ServerSpec(
            name="barehttp-asgi",
            argv=command(
                "{bin}/barehttp asgi --host {host} --port {port} --no-access-log --lifespan off"
                f" --log-level WARNING {{extra}} {ECHO_APP}"
            ),
            notes="barehttp asgi, asyncio, its own sans-IO WebSocket (pure Python)",
        ),
        ServerSpec(
            name="barehttp-web",
            argv=command(
                "{bin}/python {apps}/echo_native.py --host {host} --port {port}"
                f" --threads {NATIVE_THREADS}"
            ),
            notes=f"barehttp.web, parked echo: epoll thread + {NATIVE_THREADS} pool threads",
        ),
        ServerSpec(
            name="uvicorn-websockets",
            argv=command(UVICORN + f" --http h11 --loop asyncio --ws websockets {ECHO_APP}"),
            notes="uvicorn 0.54.0, asyncio, websockets 17.4 (C speedups for masking)",
        ),
        ServerSpec(
            name="uvicorn-wsproto",
            argv=command(UVICORN + f" --http h11 --loop asyncio --ws wsproto {ECHO_APP}"),
            notes="uvicorn 0.54.0, asyncio, wsproto 1.3.2 (pure Python)",
        ),
        ServerSpec(
            name="uvicorn-uvloop",
            argv=command(UVICORN + f" --http httptools --loop uvloop --ws websockets {ECHO_APP}"),
            notes="uvicorn 0.54.0, uvloop (C), websockets 17.4",
        ),
    )
}
CASES = {"text-16": ("text", 16), "binary-4k": ("binary", 4_096)}
CLIENT_TIMEOUT_S = 60.0  # beyond warm-up + duration: handshakes of every connection


@dataclass(frozen=True, slots=True)
class EchoRun:
    server: str
    case: str
    round: int
    round_trips: int
    window_s: float
    server_cpu_s: float
    client_cpu_s: float
    cpu0_busy_s: float
    errors: int

    @property
    def per_s(self) -> float:
        return self.round_trips / self.window_s if self.window_s else 0.0

    @property
    def per_cpu_s(self) -> float:
        return self.round_trips / self.server_cpu_s if self.server_cpu_s else 0.0

    @property
    def others_share(self) -> float:
        """Share of CPU 0 that other processes took during the window: the noise."""
        return max(0.0, self.cpu0_busy_s - self.server_cpu_s) / self.window_s


def run_case(
    server: RunningServer, case: str, args: argparse.Namespace, round_index: int, pin: bool
) -> EchoRun:
    """One load-client run; the server's CPU time is read when the client's window opens
    and closes (it prints ``measuring``, then its figures)."""
    kind, size = CASES[case]
    argv = [
        sys.executable,
        str(BENCH_DIR / "websocket_load.py"),
        str(server.context.port),
        str(args.connections),
        str(args.warmup),
        str(args.duration),
        kind,
        str(size),
    ]
    client = subprocess.Popen(
        pinned(argv, LOAD_CPU, pin),
        cwd=BENCH_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout is not None
        deadline = time.monotonic() + CLIENT_TIMEOUT_S + args.warmup + args.duration
        line = client.stdout.readline().strip()  # the client ends itself: bounded
        if line != "measuring":
            raise BenchError(
                f"load client: {line!r} {client.stderr.read() if client.stderr else ''}"
            )
        cpu_before, busy_before = tree_cpu_seconds(server.pid), cpu_busy_seconds(SERVER_CPU)
        line = client.stdout.readline().strip()
        cpu_after, busy_after = tree_cpu_seconds(server.pid), cpu_busy_seconds(SERVER_CPU)
        client.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    try:
        figures = json.loads(line)
    except json.JSONDecodeError as error:
        raise BenchError(f"load client printed {line!r}") from error
    return EchoRun(
        server=server.spec.name,
        case=case,
        round=round_index,
        round_trips=int(figures["round_trips"]),
        window_s=float(figures["window_s"]),
        server_cpu_s=cpu_after - cpu_before,
        client_cpu_s=float(figures["client_cpu_s"]),
        cpu0_busy_s=busy_after - busy_before,
        errors=int(figures["errors"]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per point")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per point")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated")
    parser.add_argument(
        "--max-noise",
        type=float,
        default=0.2,
        help="share of CPU 0 other processes may take before a point is measured again",
    )
    parser.add_argument("--noise-retries", type=int, default=1)
    parser.add_argument("--no-install", action="store_true", help="use bench/.venv as it is")
    parser.add_argument(
        "--compare-src",
        metavar="DIR",
        help="also run barehttp-web from another checkout's src/ (barehttp-web-compare)",
    )
    args = parser.parse_args(argv)
    names = [name for name in args.servers.split(",") if name]
    servers = dict(SERVERS)
    if args.compare_src:  # before/after a change, in the same run
        native = SERVERS["barehttp-web"]
        servers[COMPARE] = dataclasses.replace(
            native,
            name=COMPARE,
            env=(("PYTHONPATH", f"{os.path.abspath(args.compare_src)}{os.pathsep}{{apps}}"),),
            notes=f"{native.notes}, from {args.compare_src}",
        )
        names.append(COMPARE)
    cases = [case for case in args.cases.split(",") if case]
    if not set(BASELINES) & set(names) or set(names) - set(servers) or set(cases) - set(CASES):
        parser.error(
            f"servers: one of {BASELINES} and any of {list(SERVERS)}; cases: {list(CASES)}"
        )
    if args.rounds < 1 or args.duration <= 0 or args.warmup < 0 or args.connections < 1:
        parser.error("--rounds and --connections at least 1, --duration above 0")
    interrupt_on_signals()
    bin_dir = prepare([], install=not args.no_install)
    pin = can_pin()
    if not pin:
        print("warning: cannot pin to CPUs 0 and 1; figures are not comparable", flush=True)
    print(
        f"{args.connections} connections, sequential round trips each; {args.warmup:g} s warm-up"
        f" + {args.duration:g} s per point; server CPU {SERVER_CPU}, client CPU {LOAD_CPU}",
        flush=True,
    )
    runs: list[EchoRun] = []
    try:
        for round_index in range(args.rounds):
            order = names if round_index % 2 == 0 else names[::-1]
            for name in order:
                with running_server(servers[name], bin_dir=bin_dir, threads=1, pin=pin) as server:
                    for case in cases:
                        run = run_case(server, case, args, round_index, pin)
                        for _ in range(args.noise_retries):
                            if run.others_share <= args.max_noise:
                                break
                            again = run_case(server, case, args, round_index, pin)
                            run = min(run, again, key=lambda echo: echo.others_share)
                        runs.append(run)
                        print(
                            f"round {round_index + 1} {name:<19} {case:<10}"
                            f" {run.per_s:>8,.0f} round trips/s {run.per_cpu_s:>8,.0f} per CPU-s"
                            f"  server cpu {run.server_cpu_s / run.window_s:>4.0%}"
                            f"  client cpu {run.client_cpu_s / run.window_s:>4.0%}"
                            f"  others on CPU 0 {run.others_share:>4.0%}  errors {run.errors}",
                            flush=True,
                        )
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    print("\nmedian round trips per second (per second of server CPU time):")
    medians: dict[str, dict[str, tuple[float, float]]] = {}
    for case in cases:
        for name in names:
            mine = [run for run in runs if run.server == name and run.case == case]
            medians.setdefault(case, {})[name] = (
                statistics.median(run.per_s for run in mine),
                statistics.median(run.per_cpu_s for run in mine),
            )
            rate, per_cpu = medians[case][name]
            print(
                f"  {case:<10} {name:<19} {rate:>8,.0f} ({per_cpu:>8,.0f})  {servers[name].notes}"
            )
    print()
    for case in cases:
        for base in (name for name in BASELINES if name in names):
            base_rate, base_cpu = medians[case][base]
            for name in names:
                rate, per_cpu = medians[case][name]
                compared = name != COMPARE or base == "barehttp-web"
                if name not in BASELINES and compared and rate and per_cpu:
                    print(
                        f"{base}/{name} {case}: {base_rate / rate:.2f}x"
                        f" ({base_cpu / per_cpu:.2f}x per server CPU-second)"
                    )
    path = write_results(
        "websocket-echo",
        {
            "settings": {key: value for key, value in vars(args).items()},
            "machine": machine_info(),
            "versions": installed_versions(bin_dir),
            "runs": [asdict(run) for run in runs],
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
