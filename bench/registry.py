"""What the benchmarks measure: servers, wrk scenarios and the suites grouping them.

Add a server with one ``ServerSpec`` (its argv is a template: see
``harness.ServerContext``), a load shape with one ``Scenario``, and a
comparison with one ``Suite``: its ``baseline`` is the ratios' numerator, or
``comparisons`` pair several baselines with their own peers (the wsgi suite
compares the raw app and the Flask app separately).
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

from harness import BENCH_DIR, ServerContext, ServerSpec

NGINX_TEMPLATE = BENCH_DIR / "nginx.conf.template"
DOCROOT = "docroot"  # under each static server's {workdir}
# The files of the static suite: random bytes (nothing compresses or dedups them).
STATIC_FILES = {"64k.bin": 64 * 1024, "1m.bin": 1024 * 1024}


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
class Comparison:
    """Ratios ``baseline/peer`` for each peer."""

    baseline: str
    peers: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A goal from an issue: ``baseline`` >= ``minimum`` x the fastest of ``peers``.

    Checked round by round (the fastest peer of that round), median over rounds.
    """

    baseline: str
    peers: tuple[str, ...]
    scenario: str
    minimum: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Suite:
    """Servers and scenarios measured together; ratios are ``baseline/other``."""

    name: str
    description: str
    servers: tuple[str, ...]
    scenarios: tuple[str, ...]
    baseline: str
    comparisons: tuple[Comparison, ...] = ()  # default: baseline against every other server
    targets: tuple[Target, ...] = ()

    def pairs(self, servers: list[str], baseline: str | None) -> list[Comparison]:
        """The comparisons among ``servers``; an explicit ``baseline`` replaces them all."""
        if baseline is not None or not self.comparisons:
            first = baseline or (self.baseline if self.baseline in servers else servers[0])
            return [Comparison(baseline=first, peers=tuple(s for s in servers if s != first))]
        kept = []
        for comparison in self.comparisons:
            peers = tuple(peer for peer in comparison.peers if peer in servers)
            if comparison.baseline in servers and peers:
                kept.append(Comparison(baseline=comparison.baseline, peers=peers))
        return kept


# --------------------------------------------------------------------------- static files


def write_docroot(context: ServerContext) -> None:
    """``{workdir}/docroot`` with the static suite's files, fresh random bytes each."""
    root = context.workdir / DOCROOT
    root.mkdir()
    for name, size in STATIC_FILES.items():
        (root / name).write_bytes(os.urandom(size))


def write_nginx_config(context: ServerContext) -> None:
    """The docroot, then ``{workdir}/nginx.conf`` from ``nginx.conf.template``."""
    write_docroot(context)
    values = {
        "@WORKDIR@": str(context.workdir),
        "@DOCROOT@": str(context.workdir / DOCROOT),
        "@HOST@": context.host,
        "@PORT@": str(context.port),
        "@USER@": "root" if os.geteuid() == 0 else "nobody",  # ignored unless we are root
    }
    text = NGINX_TEMPLATE.read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    (context.workdir / "nginx.conf").write_text(text)


def _wsgi_peers(suffix: str, module: str) -> list[ServerSpec]:
    """The WSGI servers of the wsgi suite, hosting ``module``'s ``app``."""
    label = "Flask 3.1.3 hello" if module == "hello_flask" else "WSGI hello"
    gunicorn = "{bin}/gunicorn --bind {host}:{port} --no-control-socket --log-level warning"
    return [
        ServerSpec(
            name=f"barehttp{suffix or '-wsgi'}",
            argv=command(
                "{bin}/barehttp wsgi --host {host} --port {port} --no-access-log"
                f" --chdir {{apps}} {{extra}} {module}:app"
            ),
            notes=f"barehttp wsgi, {label}, default settings (1 process, 64 threads)",
        ),
        ServerSpec(
            name=f"waitress{suffix}",
            argv=command(
                f"{{bin}}/waitress-serve --listen={{host}}:{{port}} {{extra}} {module}:app"
            ),
            notes=f"waitress 3.0.2, {label}, default settings (4 threads)",
        ),
        ServerSpec(
            name=f"gunicorn-sync{suffix}",
            argv=command(f"{gunicorn} --worker-class sync --workers 1 {{extra}} {module}:app"),
            notes=f"gunicorn 27.0.1, {label}, sync, 1 worker (closes every connection)",
        ),
        ServerSpec(
            name=f"gunicorn-gthread{suffix}",
            argv=command(
                f"{gunicorn} --worker-class gthread --workers 1 --threads 4 {{extra}} {module}:app"
            ),
            notes=f"gunicorn 27.0.1, {label}, gthread, 1 worker, 4 threads",
        ),
        ServerSpec(
            name=f"cheroot{suffix}",
            argv=command(f"{{bin}}/cheroot --bind {{host}}:{{port}} {{extra}} {module}:app"),
            notes=f"cheroot 11.1.2, {label}, default settings (10 threads)",
        ),
    ]


SERVERS: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec(
            name="barehttp",
            argv=command("{bin}/barehttp hello --host {host} --port {port} --no-access-log"),
            notes="barehttp hello, default settings (64 worker threads)",
        ),
        ServerSpec(
            name="waitress",
            argv=command("{bin}/waitress-serve --listen={host}:{port} {extra} hello_wsgi:app"),
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
        # static: the same two files from a docroot each server writes into its {workdir}.
        ServerSpec(
            name="barehttp-static",
            argv=command(
                "{bin}/barehttp serve --host {host} --port {port} --no-access-log"
                " {extra} {workdir}/docroot"
            ),
            notes="barehttp serve, default settings (64 threads, os.sendfile)",
            setup=write_docroot,
            ready_path="/64k.bin",
            ready_body=None,
        ),
        ServerSpec(
            name="nginx",
            # -p/-e: no path outside {workdir} (the compiled-in error log is /var/log/nginx).
            argv=command(
                "nginx -p {workdir} -e {workdir}/error.log -c {workdir}/nginx.conf {extra}"
            ),
            notes="nginx, one process (master_process off), sendfile + tcp_nopush, no access log",
            cwd="{workdir}",
            tools=("nginx",),
            setup=write_nginx_config,
            ready_path="/64k.bin",
            ready_body=None,
        ),
        ServerSpec(
            name="waitress-static",
            argv=command("{bin}/waitress-serve --listen={host}:{port} {extra} static_wsgi:app"),
            notes="waitress 3.0.2, apps/static_wsgi.py (wsgi.file_wrapper), 4 threads",
            env=(("BENCH_DOCROOT", "{workdir}/docroot"),),
            setup=write_docroot,
            ready_path="/64k.bin",
            ready_body=None,
        ),
        # wsgi: the raw hello app (waitress above serves it) and the Flask hello app.
        *(spec for spec in _wsgi_peers("", "hello_wsgi") if spec.name != "waitress"),
        *_wsgi_peers("-flask", "hello_flask"),
        # workers: two processes each, on both CPUs (wrk still on CPU 1).
        ServerSpec(
            name="barehttp-2w",
            argv=command(
                "{bin}/barehttp wsgi --host {host} --port {port} --no-access-log --workers 2"
                " --chdir {apps} {extra} hello_wsgi:app"
            ),
            notes="barehttp wsgi --workers 2, WSGI hello, 64 threads each, unpinned",
            is_pinned=False,
        ),
        ServerSpec(
            name="gunicorn-gthread-2w",
            argv=command(
                "{bin}/gunicorn --bind {host}:{port} --no-control-socket --log-level warning"
                " --worker-class gthread --workers 2 --threads 4 {extra} hello_wsgi:app"
            ),
            notes="gunicorn 27.0.1, WSGI hello, gthread, 2 workers x 4 threads, unpinned",
            is_pinned=False,
        ),
        ServerSpec(
            name="gunicorn-sync-2w",
            argv=command(
                "{bin}/gunicorn --bind {host}:{port} --no-control-socket --log-level warning"
                " --worker-class sync --workers 2 {extra} hello_wsgi:app"
            ),
            notes="gunicorn 27.0.1, WSGI hello, sync, 2 workers (closes every connection),"
            " unpinned",
            is_pinned=False,
        ),
    )
}

_WSGI_PEERS = ("waitress", "gunicorn-sync", "gunicorn-gthread", "cheroot")
_FLASK_PEERS = tuple(f"{name}-flask" for name in _WSGI_PEERS)

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
        Scenario(
            name="static-64k",
            description="GET a 64 KiB file of random bytes, 50 persistent connections",
            path="/64k.bin",
        ),
        Scenario(
            name="static-1m",
            description="GET a 1 MiB file of random bytes, 50 persistent connections",
            path="/1m.bin",
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
        Suite(
            name="static",
            description="files from a docroot over keep-alive: 64 KiB and 1 MiB",
            servers=("barehttp-static", "nginx", "waitress-static"),
            scenarios=("static-64k", "static-1m"),
            baseline="barehttp-static",
            targets=(
                Target(
                    baseline="barehttp-static", peers=("nginx",), scenario="static-64k", minimum=0.5
                ),
                Target(
                    baseline="barehttp-static", peers=("nginx",), scenario="static-1m", minimum=0.8
                ),
            ),
        ),
        Suite(
            name="wsgi",
            description="WSGI hello and Flask hello on WSGI servers, keep-alive and close",
            servers=("barehttp-wsgi", *_WSGI_PEERS, "barehttp-flask", *_FLASK_PEERS),
            scenarios=("keep-alive", "close"),
            baseline="barehttp-wsgi",
            comparisons=(
                Comparison(baseline="barehttp-wsgi", peers=_WSGI_PEERS),
                Comparison(baseline="barehttp-flask", peers=_FLASK_PEERS),
            ),
            targets=(
                Target(
                    baseline="barehttp-wsgi",
                    peers=("waitress",),
                    scenario="keep-alive",
                    minimum=3.0,
                ),
                *(
                    Target(
                        baseline="barehttp-flask",
                        peers=_FLASK_PEERS,
                        scenario=scenario,
                        minimum=1.3,
                    )
                    for scenario in ("keep-alive", "close")
                ),
            ),
        ),
        Suite(
            name="workers",
            description="WSGI hello, 2 worker processes, servers on every CPU (wrk on CPU 1)",
            servers=("barehttp-2w", "gunicorn-gthread-2w", "gunicorn-sync-2w"),
            scenarios=("keep-alive", "close"),
            baseline="barehttp-2w",
        ),
    )
}
