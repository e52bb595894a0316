#!/usr/bin/env python3
"""ASGI hello world: ``barehttp asgi`` vs uvicorn (h11, httptools + uvloop) vs hypercorn.

The same app (bench/apps/hello_asgi.py, or hello_fastapi.py with ``--app
fastapi``) under each server, one process each, the server pinned to CPU 0 and
wrk to CPU 1, 50 keep-alive connections; rounds alternate the servers so that
noise from other work on the machine falls on all of them. Prints req/s per
round, the medians, and barehttp's ratio to each peer (the floors: at
least 2.5x uvicorn with h11 for the raw app, 1.5x with FastAPI). hypercorn runs
its default single worker: a child process serves, its idle parent watches it
(both on CPU 0; their CPU time is summed).

Usage::

    python3 bench/asgi.py                      # 3 rounds, 2 s warm-up + 8 s each
    python3 bench/asgi.py --rounds 1 --duration 3 --warmup 1
    python3 bench/asgi.py --app fastapi        # the same answer through FastAPI
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys

from harness import (
    BenchError,
    ServerSpec,
    can_pin,
    installed_versions,
    interrupt_on_signals,
    machine_info,
    prepare,
    running_server,
    write_results,
)
from registry import Scenario, command
from wrk_runner import measure

BASELINE = "barehttp-asgi"
FLOORS = {"hello": 2.5, "fastapi": 1.5}  # floor: at least this many times uvicorn-h11
UVICORN = (
    "{bin}/uvicorn --host {host} --port {port} --workers 1 --lifespan off --no-access-log"
    " --log-level warning"
)
HYPERCORN = (
    "{bin}/hypercorn --bind {host}:{port} --workers 1 --worker-class asyncio --log-level warning"
)
# The apps: a raw ASGI hello, and the same answer through FastAPI.
APPS = {"hello": "hello_asgi:app", "fastapi": "hello_fastapi:app"}


def servers(app: str) -> tuple[ServerSpec, ...]:
    return (
        ServerSpec(
            name=BASELINE,
            argv=command(
                "{bin}/barehttp asgi --host {host} --port {port} --no-access-log --lifespan off"
                f" --log-level WARNING {{extra}} {app}"
            ),
            notes="barehttp asgi, 1 process, asyncio (pure Python)",
        ),
        ServerSpec(
            name="uvicorn-h11",
            argv=command(UVICORN + f" --http h11 --loop asyncio {{extra}} {app}"),
            notes="uvicorn 0.54.0, 1 worker, h11 + asyncio (pure Python)",
        ),
        ServerSpec(
            name="uvicorn-httptools",
            argv=command(UVICORN + f" --http httptools --loop uvloop {{extra}} {app}"),
            notes="uvicorn 0.54.0, 1 worker, httptools + uvloop (C)",
        ),
        ServerSpec(
            name="hypercorn",
            argv=command(HYPERCORN + f" {{extra}} {app}"),
            notes="hypercorn 0.18.0, 1 worker, h11 + asyncio (pure Python)",
        ),
    )


SCENARIO = Scenario(name="asgi-hello", description="GET / keep-alive, 50 connections")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per run")
    parser.add_argument("--no-install", action="store_true", help="use bench/.venv as it is")
    parser.add_argument("--app", choices=sorted(APPS), default="hello")
    args = parser.parse_args(argv)
    specs = servers(APPS[args.app])
    interrupt_on_signals()
    bin_dir = prepare(["wrk"], install=not args.no_install)
    pin = can_pin()
    if not pin:
        print("warning: cannot pin to CPUs 0 and 1; figures are not comparable", flush=True)
    rates: dict[str, list[float]] = {spec.name: [] for spec in specs}
    # Requests per second of the server's own CPU time: on a machine where other work
    # takes CPU 0 now and then, this moves far less than req/s does.
    per_cpu: dict[str, list[float]] = {spec.name: [] for spec in specs}
    results = []
    try:
        for round_index in range(args.rounds):
            for spec in specs:
                with running_server(spec, bin_dir=bin_dir, threads=1, pin=pin) as server:
                    result = measure(
                        server,
                        SCENARIO,
                        duration_s=args.duration,
                        warmup_s=args.warmup,
                        round_index=round_index,
                        pin=pin,
                    )
                results.append(result)
                rates[spec.name].append(result.requests_per_s)
                if result.server_cpu_s > 0:
                    per_cpu[spec.name].append(result.requests / result.server_cpu_s)
                print(
                    f"round {round_index + 1} {spec.name:<18} {result.requests_per_s:>9,.0f} req/s"
                    f"  {per_cpu[spec.name][-1] if per_cpu[spec.name] else 0:>9,.0f} req/CPU-s"
                    f"  errors {result.error_count}  others on CPU 0 {result.others_cpu_share:.0%}",
                    flush=True,
                )
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print("\nmedian req/s (one core each):")
    for spec in specs:
        print(f"  {spec.name:<18} {medians[spec.name]:>9,.0f}   {spec.notes}")
    for name, rate in medians.items():
        if name != BASELINE and rate:
            print(f"{BASELINE}/{name}: {medians[BASELINE] / rate:.2f}x")
    cpu_medians = {name: statistics.median(values or [0.0]) for name, values in per_cpu.items()}
    print("\nmedian requests per second of server CPU time:")
    for spec in specs:
        print(f"  {spec.name:<18} {cpu_medians[spec.name]:>9,.0f}")
    for name, rate in cpu_medians.items():
        if name != BASELINE and rate:
            print(f"{BASELINE}/{name} per CPU-second: {cpu_medians[BASELINE] / rate:.2f}x")
    h11_ratio = medians[BASELINE] / medians["uvicorn-h11"] if medians["uvicorn-h11"] else 0.0
    floor = FLOORS[args.app]
    verdict = "met" if h11_ratio >= floor else "NOT met"
    print(f"floor {floor}x uvicorn-h11: {verdict} ({h11_ratio:.2f}x)")
    path = write_results(
        f"asgi-{args.app}",
        {
            "machine": machine_info(),
            "versions": installed_versions(bin_dir),
            "medians_req_per_s": medians,
            "medians_req_per_cpu_s": cpu_medians,
            "runs": [dataclasses.asdict(result) for result in results],
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
