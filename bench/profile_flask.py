#!/usr/bin/env python3
"""Where barehttp's time goes serving the Flask hello app under wrk load.

Starts ``barehttp wsgi hello_flask:app`` pinned to CPU 0 (as in the wsgi
suite), loads it with wrk on CPU 1, and samples it meanwhile with py-spy (also
on CPU 1). Only the thread holding the GIL is sampled (``--gil``): with one
CPU and the GIL, that is where the Python time goes, and workers blocked in
``recv`` are left out. py-spy pauses the server for each sample (throughput
drops ~15%); ``--nonblocking`` does not, but then reads stacks mid-change and
charges many samples to the line of a blocking ``recv``. It also prints the
server's user and system CPU: system time (the kernel's socket work) is in no
Python frame.

It prints the samples grouped by the package of the function that was
running (``self``), by the package that was responsible (``owner``: stdlib
frames charged to the nearest Flask/Werkzeug or barehttp caller), by the
packages a sample was inside at all (``inclusive``), then the top functions.

Usage::

    python3 bench/profile_flask.py                   # 2 s warm-up, 10 s sampled at 200 Hz
    python3 bench/profile_flask.py --duration 20 --top 40
    python3 bench/profile_flask.py --app hello_wsgi:app     # the raw WSGI hello instead
    python3 bench/profile_flask.py --raw-out /tmp/flask.txt # keep py-spy's collapsed stacks

Stdlib only; py-spy comes from ``bench/.venv`` (``requirements.txt``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import (
    LOAD_CPU,
    REPO_DIR,
    SERVER_CPU,
    BenchError,
    RunningServer,
    ServerSpec,
    can_pin,
    interrupt_on_signals,
    pinned,
    prepare,
    running_server,
    write_results,
)
from registry import command

FLASK = "Flask/Werkzeug"
BAREHTTP = "barehttp"
OTHER = "other"
GROUPS = (FLASK, BAREHTTP, OTHER)
# First component of the module path py-spy prints (``flask/app.py``): Flask and what it pulls in.
FLASK_PACKAGES = frozenset({"flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "blinker"})
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a py-spy raw stack: ``function (file:line)``."""

    function: str
    file: str
    line: str

    @classmethod
    def parse(cls, text: str) -> Frame:
        function, _, location = text.partition(" (")
        file, _, line = location.rstrip(")").rpartition(":")
        return cls(function=function, file=file or location.rstrip(")"), line=line)

    @property
    def group(self) -> str:
        top = self.file.replace("\\", "/").lstrip("/").split("/")
        # Absolute paths (not under a sys.path entry py-spy strips) still name the package.
        if "site-packages" in top:
            top = top[top.index("site-packages") + 1 :]
        if "src" in top and "barehttp" in top:
            top = top[top.index("barehttp") :]
        if top[0] in FLASK_PACKAGES:
            return FLASK
        if top[0] == "barehttp":
            return BAREHTTP
        return OTHER

    @property
    def name(self) -> str:
        return f"{self.function} ({self.file})"


def read_stacks(lines: Iterable[str]) -> list[tuple[list[Frame], int]]:
    """py-spy ``--format raw``: one ``frame;frame;...;leaf COUNT`` per line, outermost first."""
    stacks = []
    for line in lines:
        text, _, count = line.rstrip("\n").rpartition(" ")
        if not text or not count.isdigit():
            continue
        stacks.append(([Frame.parse(part) for part in text.split(";") if part], int(count)))
    return stacks


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Sample counts, grouped."""

    total: int
    self_by_group: dict[str, int]
    owner_by_group: dict[str, int]
    inclusive_by_group: dict[str, int]
    self_by_function: collections.Counter[tuple[str, str]]  # (group, name)
    inclusive_by_function: collections.Counter[tuple[str, str]]


def summarize(stacks: Sequence[tuple[list[Frame], int]]) -> Profile:
    self_by_group: collections.Counter[str] = collections.Counter()
    owner_by_group: collections.Counter[str] = collections.Counter()
    inclusive_by_group: collections.Counter[str] = collections.Counter()
    self_by_function: collections.Counter[tuple[str, str]] = collections.Counter()
    inclusive_by_function: collections.Counter[tuple[str, str]] = collections.Counter()
    total = 0
    for frames, count in stacks:
        if not frames:
            continue
        total += count
        leaf = frames[-1]
        self_by_group[leaf.group] += count
        self_by_function[(leaf.group, leaf.name)] += count
        owner = next((f.group for f in reversed(frames) if f.group != OTHER), OTHER)
        owner_by_group[owner] += count
        for group in {frame.group for frame in frames}:
            inclusive_by_group[group] += count
        for key in {(frame.group, frame.name) for frame in frames}:
            inclusive_by_function[key] += count
    return Profile(
        total=total,
        self_by_group=dict(self_by_group),
        owner_by_group=dict(owner_by_group),
        inclusive_by_group=dict(inclusive_by_group),
        self_by_function=self_by_function,
        inclusive_by_function=inclusive_by_function,
    )


def format_profile(profile: Profile, top: int) -> str:
    total = max(profile.total, 1)
    lines = [
        f"{'group':<16} {'self':>7} {'owner':>7} {'inclusive':>10}",
        "-" * 43,
    ]
    for group in GROUPS:
        lines.append(
            f"{group:<16} {profile.self_by_group.get(group, 0) / total:>7.1%}"
            f" {profile.owner_by_group.get(group, 0) / total:>7.1%}"
            f" {profile.inclusive_by_group.get(group, 0) / total:>10.1%}"
        )
    lines += [
        "self = the running function's package; owner = stdlib time charged to the nearest"
        " Flask/Werkzeug or barehttp caller; inclusive = samples with any frame of it",
        "",
        f"top {top} functions by self samples:",
    ]
    for (group, name), count in profile.self_by_function.most_common(top):
        lines.append(f"  {count / total:6.1%}  {group:<15} {name}")
    lines += ["", f"top {top} functions by inclusive samples:"]
    for (group, name), count in profile.inclusive_by_function.most_common(top):
        lines.append(f"  {count / total:6.1%}  {group:<15} {name}")
    return "\n".join(lines)


def user_system_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of one process (all its threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks  # utime, stime


def profile_server(
    server: RunningServer,
    *,
    bin_dir: Path,
    duration_s: float,
    warmup_s: float,
    rate_hz: int,
    gil_only: bool,
    nonblocking: bool,
    connections: int,
    pin: bool,
    raw_path: Path,
) -> dict[str, object]:
    """Warm up, then wrk for ``duration_s`` + margins with py-spy sampling in the middle.

    Raises:
        BenchError: wrk or py-spy failed.
    """
    url = f"http://{server.context.host}:{server.context.port}/"

    def wrk(seconds: float) -> list[str]:
        argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        return pinned([*argv, "--timeout", "5s", "-s", str(WRK_SCRIPT), url], LOAD_CPU, pin)

    if warmup_s > 0:
        subprocess.run(wrk(warmup_s), capture_output=True, check=True, timeout=warmup_s + 30)
    load = subprocess.Popen(wrk(duration_s + 2), stdout=subprocess.PIPE, text=True)
    spy_argv = [str(bin_dir / "py-spy"), "record", "--format", "raw"]
    if nonblocking:
        spy_argv.append("--nonblocking")
    spy_argv += ["--rate", str(rate_hz), "--duration", str(max(1, round(duration_s)))]
    spy_argv += ["--output", str(raw_path), "--pid", str(server.pid)]
    if gil_only:
        spy_argv.append("--gil")
    try:
        time.sleep(1.0)  # wrk's connections are up
        user_before, system_before = user_system_seconds(server.pid)
        started = time.monotonic()
        spy = subprocess.run(
            pinned(spy_argv, LOAD_CPU, pin),
            capture_output=True,
            text=True,
            timeout=duration_s + 60,
            check=False,
        )
        user_after, system_after = user_system_seconds(server.pid)
        elapsed = time.monotonic() - started
        stdout, _ = load.communicate(timeout=duration_s + 30)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    if spy.returncode != 0 or not raw_path.exists():
        raise BenchError(f"py-spy failed ({spy.returncode}): {spy.stderr.strip()[-2000:]}")
    summary: dict[str, object] = {
        "user_share": (user_after - user_before) / elapsed,
        "system_share": (system_after - system_before) / elapsed,
    }
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            summary.update(json.loads(line.removeprefix("BENCH_JSON ")))
    return summary


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--app", default="hello_flask:app", help="MODULE:APP in bench/apps")
    parser.add_argument("--duration", type=float, default=10.0, help="sampled seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="wrk before sampling")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every non-idle thread, not only the GIL holder",
    )
    parser.add_argument(
        "--nonblocking",
        action="store_true",
        help="read the server without pausing it (less overhead, less accurate stacks)",
    )
    parser.add_argument("--raw-out", type=Path, help="also keep py-spy's collapsed stacks here")
    parser.add_argument("--no-install", action="store_true", help="skip venv and apt checks")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_signals()
    try:
        bin_dir = prepare(["wrk"], install=not args.no_install)
    except (BenchError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not (bin_dir / "py-spy").exists():
        print(f"error: no py-spy in {bin_dir} (see requirements.txt)", file=sys.stderr)
        return 1
    pin = can_pin()
    spec = ServerSpec(
        name="barehttp-profiled",
        argv=command(
            "{bin}/barehttp wsgi --host {host} --port {port} --no-access-log"
            f" --chdir {{apps}} {args.app}"
        ),
        notes=f"barehttp wsgi {args.app}, default settings",
    )
    mode = "every non-idle thread" if args.all_threads else "the GIL holder only"
    print(
        f"profiling barehttp wsgi {args.app}: wrk -c{args.connections} on CPU {LOAD_CPU},"
        f" server on CPU {SERVER_CPU}{'' if pin else ' (UNPINNED)'}; py-spy {args.rate} Hz"
        f" for {args.duration:g} s, {mode}",
        flush=True,
    )
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch,
            running_server(spec, bin_dir=bin_dir, threads=0, pin=pin) as server,
        ):
            raw_path = args.raw_out or Path(scratch) / "stacks.txt"
            wrk_summary = profile_server(
                server,
                bin_dir=bin_dir,
                duration_s=args.duration,
                warmup_s=args.warmup,
                rate_hz=args.rate,
                gil_only=not args.all_threads,
                nonblocking=args.nonblocking,
                connections=args.connections,
                pin=pin,
                raw_path=raw_path,
            )
            stacks = read_stacks(raw_path.read_text().splitlines())
    except BenchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; server stopped", file=sys.stderr)
        return 130

    profile = summarize(stacks)
    requests = int(str(wrk_summary.get("requests", 0)))
    duration_us = int(str(wrk_summary.get("duration_us", 0)))
    raw_errors = wrk_summary.get("errors")
    errors = {str(k): int(v) for k, v in raw_errors.items()} if isinstance(raw_errors, dict) else {}
    rate = requests / (duration_us / 1e6) if duration_us else 0.0
    expected = round(args.rate * args.duration)
    print(
        f"wrk: {rate:.0f} req/s while sampled (py-spy on CPU {LOAD_CPU} beside wrk),"
        f" errors: {', '.join(f'{k} {v}' for k, v in errors.items() if v) or '-'}"
    )
    user_share = float(str(wrk_summary.get("user_share", 0.0)))
    system_share = float(str(wrk_summary.get("system_share", 0.0)))
    print(
        f"server CPU while sampled: user {user_share:.0%} + system {system_share:.0%} of wall time"
        " (system: socket I/O in the kernel, outside any Python frame)"
    )
    print(
        f"samples: {profile.total} of ~{expected} taken"
        + (
            ""
            if args.all_threads
            else " (the rest: no thread held the GIL: system calls, GIL hand-over)"
        )
    )
    print()
    print(format_profile(profile, args.top))
    payload: dict[str, object] = {
        "app": args.app,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "settings": {k: str(v) for k, v in vars(args).items()},
        "requests_per_s": rate,
        "user_share": user_share,
        "system_share": system_share,
        "errors": errors,
        "samples": profile.total,
        "self_by_group": profile.self_by_group,
        "owner_by_group": profile.owner_by_group,
        "inclusive_by_group": profile.inclusive_by_group,
        "top_self": [
            {"group": g, "function": n, "samples": c}
            for (g, n), c in profile.self_by_function.most_common(args.top)
        ],
    }
    print(f"results: {write_results('profile-flask', payload).relative_to(REPO_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
