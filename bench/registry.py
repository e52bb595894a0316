"""What the benchmarks measure: servers, wrk scenarios and the suites grouping them.

Add a server with one ``ServerSpec`` (its argv is a template: see
``harness.ServerContext``), a load shape with one ``Scenario``, and a
comparison with one ``Suite`` whose ``baseline`` is the ratios' numerator.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from harness import ServerSpec


def command(line: str) -> tuple[str, ...]:
    """An argv template from one shell-like line (no shell is ever run)."""
    return tuple(shlex.split(line))


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One wrk load shape."""

    name: str
    description: str
    path: str = "/"
    connections: int = 50
    wrk_threads: int = 1
    headers: tuple[str, ...] = ()  # extra request header lines, "Name: value"


@dataclass(frozen=True, slots=True, kw_only=True)
class Suite:
    """Servers and scenarios measured together; ratios are ``baseline/other``."""

    name: str
    description: str
    servers: tuple[str, ...]
    scenarios: tuple[str, ...]
    baseline: str


SERVERS: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec(
            name="barehttp",
            argv=command(
                "{bin}/barehttp hello --host {host} --port {port} --no-access-log"
            ),
            notes="barehttp hello, default settings (64 worker threads)",
        ),
        ServerSpec(
            name="waitress",
            argv=command(
                "{bin}/waitress-serve --listen={host}:{port} {extra} hello_wsgi:app"
            ),
            notes="waitress 3.0.2, WSGI hello, default settings (4 threads)",
        ),
        ServerSpec(
            name="granian",
            # One worker process with one runtime thread: the closest to one pinned CPU.
            argv=command(
                "{bin}/granian --interface rsgi --host {host} --port {port} --workers 1"
                " --runtime-threads 1 --no-ws --log-level warning {extra} hello_rsgi:app"
            ),
            notes="granian 2.8.9, RSGI hello, 1 worker, 1 runtime thread (Rust I/O)",
        ),
        ServerSpec(
            name="uvicorn",
            argv=command(
                "{bin}/uvicorn --host {host} --port {port} --workers 1 --http httptools"
                " --loop uvloop --lifespan off --no-access-log --log-level warning"
                " {extra} hello_asgi:app"
            ),
            notes="uvicorn 0.54.0, ASGI hello, 1 worker, httptools + uvloop",
        ),
    )
}

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            name="keep-alive",
            description="GET /, 50 persistent connections",
        ),
        Scenario(
            name="close",
            description="GET / with Connection: close: one TCP connection per request",
            headers=("Connection: close",),
        ),
    )
}

SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite(
            name="hello",
            description="hello-world GET /, keep-alive and Connection: close",
            servers=("barehttp", "waitress", "granian", "uvicorn"),
            scenarios=("keep-alive", "close"),
            baseline="barehttp",
        ),
    )
}
