"""One wrk run against one running server, pinned to the load CPU, parsed into figures."""

from __future__ import annotations

import json
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import (
    LOAD_CPU,
    SERVER_CPU,
    BenchError,
    RunningServer,
    cpu_busy_seconds,
    measured_cpus,
    pinned,
    tree_cpu_seconds,
    tree_status_kib,
)
from registry import Scenario

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"


@dataclass(frozen=True, slots=True, kw_only=True)
class WrkResult:
    """One measured wrk run."""

    server: str
    scenario: str
    round: int
    requests: int
    duration_s: float
    bytes_per_response: float
    errors: dict[str, int]  # connect, read, write, timeout, status (= non-2xx/3xx responses)
    latency_us: dict[str, float]
    peak_rss_kib: int  # VmHWM of the server's processes, summed, after the run
    server_cpu_s: float  # CPU time the server's processes used during the measured run
    cpu0_busy_s: float  # busy time of the server's CPU(s) during it, less wrk's: server + others
    server_cpus: tuple[int, ...] = (SERVER_CPU,)  # where the server could run (all: unpinned)

    @property
    def server_cpu_share(self) -> float:
        """Fraction of the wall time the server ran: near 1.0 when it is CPU-bound."""
        return self.server_cpu_s / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def others_cpu_share(self) -> float:
        """CPU time other processes took on the server's CPU(s), per wall second: the noise.

        Ideally ~0. For an unpinned server this is summed over every CPU, wrk's own time left out.
        """
        return max(0.0, self.cpu0_busy_s - self.server_cpu_s) / self.duration_s

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def is_clean(self) -> bool:
        """No socket errors, no non-2xx/3xx answers, and some requests done."""
        return self.error_count == 0 and self.requests > 0


@dataclass(frozen=True, slots=True, kw_only=True)
class WrkSummary:
    """What wrk_report.lua prints at the end of a run."""

    requests: int
    duration_s: float
    bytes: int
    errors: dict[str, int]
    latency_us: dict[str, float]

    @classmethod
    def from_json(cls, text: str) -> WrkSummary:
        data = json.loads(text)
        return cls(
            requests=int(data["requests"]),
            duration_s=int(data["duration_us"]) / 1e6,
            bytes=int(data["bytes"]),
            errors={str(kind): int(count) for kind, count in data["errors"].items()},
            latency_us={str(name): float(us) for name, us in data["latency_us"].items()},
        )


def run_wrk(
    server: RunningServer, scenario: Scenario, *, duration_s: float, pin: bool
) -> WrkSummary:
    """Run wrk once against ``server``, pinned to CPU 1.

    Raises:
        BenchError: wrk failed or printed no summary.
    """
    context = server.context
    argv = [
        "wrk",
        f"-t{scenario.wrk_threads}",
        f"-c{scenario.connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
    ]
    for header in scenario.headers:
        argv += ["-H", header]
    argv.append(f"http://{context.host}:{context.port}{scenario.path}")
    process = subprocess.Popen(
        pinned(argv, LOAD_CPU, pin), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        stdout, stderr = process.communicate(timeout=duration_s + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise BenchError(f"wrk exited with {process.returncode}: {stderr.strip()}")
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return WrkSummary.from_json(line.removeprefix("BENCH_JSON "))
    raise BenchError(f"wrk printed no summary:\n{stdout}\n{stderr}")


def measure(
    server: RunningServer,
    scenario: Scenario,
    *,
    duration_s: float,
    warmup_s: float,
    round_index: int,
    pin: bool,
) -> WrkResult:
    """Warm up (discarded), then one measured wrk run.

    An unpinned server shares CPU 1 with wrk: the busy time of its CPUs then
    leaves out wrk's own (the children's rusage, as wrk is the only child
    reaped meanwhile), so that what remains is the server plus others.
    """
    if warmup_s > 0:
        run_wrk(server, scenario, duration_s=warmup_s, pin=pin)
    cpus = measured_cpus(server.spec) if pin else (SERVER_CPU,)
    shares_load_cpu = LOAD_CPU in cpus
    cpu_before, busy_before = tree_cpu_seconds(server.pid), _busy(cpus)
    wrk_before = _children_cpu_seconds()
    summary = run_wrk(server, scenario, duration_s=duration_s, pin=pin)
    cpu_after, busy_after = tree_cpu_seconds(server.pid), _busy(cpus)
    wrk_cpu_s = _children_cpu_seconds() - wrk_before if shares_load_cpu else 0.0
    return WrkResult(
        server=server.spec.name,
        scenario=scenario.name,
        round=round_index,
        requests=summary.requests,
        duration_s=summary.duration_s,
        bytes_per_response=summary.bytes / summary.requests if summary.requests else 0.0,
        errors=summary.errors,
        latency_us=summary.latency_us,
        peak_rss_kib=tree_status_kib(server.pid, "VmHWM"),
        server_cpu_s=cpu_after - cpu_before,
        cpu0_busy_s=busy_after - busy_before - wrk_cpu_s,
        server_cpus=cpus,
    )


def _busy(cpus: tuple[int, ...]) -> float:
    return sum(cpu_busy_seconds(cpu) for cpu in cpus)


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
