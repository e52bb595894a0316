"""Shared machinery for the bench scripts: the bench venv, pinning, starting and stopping servers.

Stdlib only. Every process started here is ended by its PID (its process
group, since servers run in their own session), in ``finally`` blocks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
APPS_DIR = BENCH_DIR / "apps"
VENV_DIR = BENCH_DIR / ".venv"
RESULTS_DIR = BENCH_DIR / "results"
REQUIREMENTS_FILE = BENCH_DIR / "requirements.txt"

HOST = "127.0.0.1"  # loopback only: nothing here ever targets another address
SERVER_CPU = 0  # every server, and all its processes, on this CPU
LOAD_CPU = 1  # the load generator on the other one, so they do not compete
HELLO_BODY = b"Hello, World!"
EXTRA_ARGS = "{extra}"  # argv template slot for per-script options (see ServerContext.expand_argv)

# Debian package that provides each command-line tool a spec may need.
DEBIAN_PACKAGES = {
    "wrk": "wrk",
    "nginx": "nginx",
    "ab": "apache2-utils",
    "taskset": "util-linux",
    "curl": "curl",
}


class BenchError(Exception):
    """A benchmark could not run: a tool is missing or a server did not start."""


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerContext:
    """What a server's argv template may refer to, as ``{name}`` placeholders."""

    bin: Path  # bench/.venv/bin
    apps: Path  # bench/apps
    workdir: Path  # a fresh temporary directory for this server's files (configs, docroot)
    host: str
    port: int
    threads: int  # worker threads for thread-pooled servers (barehttp, waitress)

    def expand(self, template: Sequence[str]) -> list[str]:
        """Fill ``{bin}``, ``{apps}``, ``{workdir}``, ``{host}``, ``{port}``, ``{threads}``."""
        values = {name: str(value) for name, value in dataclasses.asdict(self).items()}
        return [part.format(**values) for part in template]

    def expand_argv(self, template: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
        """``expand``, with ``extra`` where the template has ``{extra}``, else at the end.

        Servers taking a positional app (``hello_wsgi:app``) need options before it.
        """
        if EXTRA_ARGS not in template:
            return [*self.expand(template), *extra]
        at = list(template).index(EXTRA_ARGS)
        return [*self.expand(template[:at]), *extra, *self.expand(template[at + 1 :])]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSpec:
    """How to start one server and tell that it is ready.

    Readiness: a TCP connect to ``{host}:{port}`` succeeds, then ``GET
    ready_path`` answers 200 with ``ready_body`` (when given).
    """

    name: str
    argv: tuple[str, ...]  # template, see ServerContext.expand_argv
    notes: str  # what the figures depend on: workers, threads, loop
    cwd: str = "{apps}"  # template too
    env: tuple[tuple[str, str], ...] = ()
    tools: tuple[str, ...] = ()  # Debian tools it needs (see DEBIAN_PACKAGES)
    setup: Callable[[ServerContext], None] | None = None  # writes configs/files into workdir
    ready_path: str = "/"
    ready_body: bytes | None = HELLO_BODY
    # False for multi-process servers measured on every CPU (the workers suite): only the load
    # generator is then pinned, and it shares CPU 1 with the server.
    is_pinned: bool = True
    startup_timeout_s: float = 30.0
    stop_timeout_s: float = 10.0


# --------------------------------------------------------------------------- environment


def install_debian_tools(tools: Sequence[str]) -> None:
    """Install the Debian packages for missing ``tools``: one ``apt-get update``, one install.

    Raises:
        BenchError: a tool is missing and we are not root, or apt failed.
    """
    missing = sorted({tool for tool in tools if shutil.which(tool) is None})
    if not missing:
        return
    packages = sorted({DEBIAN_PACKAGES.get(tool, tool) for tool in missing})
    if os.geteuid() != 0:
        raise BenchError(f"missing {missing}; install Debian packages {packages} (needs root)")
    print(f"installing Debian packages: {' '.join(packages)}", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    except subprocess.CalledProcessError as error:
        raise BenchError(f"apt-get failed: {error}") from error
    still_missing = [tool for tool in missing if shutil.which(tool) is None]
    if still_missing:
        raise BenchError(f"still missing after apt-get install: {still_missing}")


def _venv_fingerprint() -> str:
    """Changes when the pinned peers or barehttp's packaging change."""
    digest = hashlib.sha256()
    for path in (REQUIREMENTS_FILE, REPO_DIR / "pyproject.toml"):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> Path:
    """Build ``bench/.venv`` with the pinned peers and barehttp (editable); return its bin/.

    Rebuilt only when ``requirements.txt`` or ``pyproject.toml`` change, so a
    second run starts at once. barehttp is editable, so source edits need no
    reinstall.
    """
    stamp = VENV_DIR / ".installed"
    fingerprint = _venv_fingerprint()
    bin_dir = VENV_DIR / "bin"
    if stamp.exists() and stamp.read_text() == fingerprint:
        return bin_dir
    print(f"building {VENV_DIR.relative_to(REPO_DIR)} (pinned peers + barehttp)", flush=True)
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", str(VENV_DIR)], check=True)
    python = str(bin_dir / "python")
    pip_install = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip_install, "-r", str(REQUIREMENTS_FILE), "-e", str(REPO_DIR)], check=True)
    stamp.write_text(fingerprint)
    return bin_dir


def installed_versions(bin_dir: Path) -> dict[str, str]:
    """``pip freeze`` of the bench venv, as name -> version (for the results file)."""
    completed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        return {}
    return {item["name"].lower(): item["version"] for item in json.loads(completed.stdout)}


def can_pin() -> bool:
    """True when CPUs 0 and 1 both exist for this process and taskset is there."""
    available = os.sched_getaffinity(0)
    return SERVER_CPU in available and LOAD_CPU in available and shutil.which("taskset") is not None


def pinned(argv: Sequence[str], cpu: int, pin: bool) -> list[str]:
    """``taskset -c CPU argv`` (taskset execs, so the PID stays the server's)."""
    return ["taskset", "-c", str(cpu), *argv] if pin else list(argv)


def git_revision() -> str:
    completed = subprocess.run(
        ["git", "-C", str(REPO_DIR), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.stdout.strip() or "unknown"


def machine_info() -> dict[str, object]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "barehttp_revision": git_revision(),
    }


# --------------------------------------------------------------------------- processes


def find_free_port() -> int:
    """A port the kernel has just handed out on 127.0.0.1 (free unless someone races us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (granian and gunicorn fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 is the parent PID; the command name (field 2) may hold spaces, so split after ')'.
        parent = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def read_status_kib(pid: int, key: str) -> int:
    """A ``kB`` field (``VmRSS``, ``VmHWM``) of /proc/PID/status; 0 if the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_status_kib(pid: int, key: str) -> int:
    """``key`` summed over ``pid`` and its descendants."""
    return sum(read_status_kib(member, key) for member in process_tree(pid))


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants, in seconds."""
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_busy_seconds(cpu: int) -> float:
    """Time CPU ``cpu`` ran tasks (user, nice, system) or was stolen by the hypervisor.

    From /proc/stat, in seconds. irq and softirq time is left out: loopback
    packet processing lands there, and much of it is the benchmark's own.
    """
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{cpu} "):
            user, nice, system, _idle, _iowait, _irq, _softirq, steal = (
                int(value) for value in line.split()[1:9]
            )
            return (user + nice + system + steal) / os.sysconf("SC_CLK_TCK")
    return 0.0


def measured_cpus(spec: ServerSpec) -> tuple[int, ...]:
    """The CPUs a server may run on: CPU 0, or every CPU for an unpinned spec."""
    return (SERVER_CPU,) if spec.is_pinned else tuple(sorted(os.sched_getaffinity(0)))


def tree_threads(pid: int) -> int:
    """Thread count summed over ``pid`` and its descendants."""
    return sum(len(list(Path(f"/proc/{m}/task").glob("*"))) for m in process_tree(pid))


@dataclass(slots=True)
class RunningServer:
    """A started server: its PID (also its process group) and where its output goes."""

    spec: ServerSpec
    context: ServerContext
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def wait_until_ready(server: RunningServer) -> None:
    """Poll a TCP connect, then ``GET ready_path``, until it answers as expected.

    Raises:
        BenchError: the process exited, or the deadline passed.
    """
    spec, context = server.spec, server.context
    deadline = time.monotonic() + spec.startup_timeout_s
    last_problem = "no connection yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"{spec.name} exited with {server.process.returncode} while starting:\n"
                + server.log_tail()
            )
        try:
            with socket.create_connection((context.host, context.port), timeout=1.0):
                pass
            connection = http.client.HTTPConnection(context.host, context.port, timeout=5.0)
            try:
                connection.request("GET", spec.ready_path)
                response = connection.getresponse()
                body = response.read()
            finally:
                connection.close()
            if response.status == 200 and (spec.ready_body is None or body == spec.ready_body):
                return
            last_problem = f"GET {spec.ready_path} answered {response.status} {body[:80]!r}"
        except (OSError, http.client.HTTPException) as error:
            last_problem = f"{type(error).__name__}: {error}"
        time.sleep(0.1)
    raise BenchError(
        f"{spec.name} not ready after {spec.startup_timeout_s:.0f} s ({last_problem}):\n"
        + server.log_tail()
    )


def stop_process_group(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM the group led by ``process`` (its PID), then SIGKILL it if still there."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout_s)
    # Workers (granian, gunicorn) may outlive a leader that already exited.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout_s)


@contextlib.contextmanager
def running_server(
    spec: ServerSpec,
    *,
    bin_dir: Path,
    threads: int,
    pin: bool,
    extra_args: Sequence[str] = (),
) -> Iterator[RunningServer]:
    """Start ``spec`` on a free port pinned to CPU 0, wait until ready, stop it on exit.

    A spec with ``is_pinned=False`` is left on every CPU.

    The server runs in its own session (process group = its PID), so Ctrl-C
    reaches only this script, which then ends the group in ``finally``.
    """
    with tempfile.TemporaryDirectory(prefix=f"bench-{spec.name}-") as workdir_name:
        workdir = Path(workdir_name)
        context = ServerContext(
            bin=bin_dir,
            apps=APPS_DIR,
            workdir=workdir,
            host=HOST,
            port=find_free_port(),
            threads=threads,
        )
        if spec.setup is not None:
            spec.setup(context)
        argv = pinned(
            context.expand_argv(spec.argv, extra_args), SERVER_CPU, pin and spec.is_pinned
        )
        # BENCH_BAREHTTP_SRC=/other/checkout/src: serve that barehttp instead of this
        # checkout's (the editable install), to compare two versions in one run setup.
        python_path = [os.environ.get("BENCH_BAREHTTP_SRC", ""), str(APPS_DIR)]
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, python_path)),
        }
        env.update({name: context.expand([value])[0] for name, value in spec.env})
        log_path = workdir / "server.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv,
                cwd=context.expand([spec.cwd])[0],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = RunningServer(spec=spec, context=context, process=process, log_path=log_path)
        try:
            wait_until_ready(server)
            yield server
        finally:
            stop_process_group(process, spec.stop_timeout_s)


def interrupt_on_signals() -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt, so ``finally`` blocks stop the servers.

    SIGINT is set explicitly: a shell starting us in the background ignores it,
    and Python then keeps it ignored.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def write_results(name: str, payload: dict[str, object]) -> Path:
    """``bench/results/NAME-YYYYmmdd-HHMMSS.json``."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def prepare(tools: Sequence[str], *, install: bool) -> Path:
    """Debian tools and the bench venv; return the venv's bin/."""
    if install:
        install_debian_tools(["taskset", *tools])
        return ensure_venv()
    return VENV_DIR / "bin"
