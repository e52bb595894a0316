#!/usr/bin/env python3
"""A 1 GiB file to 20 clients at once: does the server's memory stay flat?

Starts ``barehttp serve`` on a temporary directory holding one sparse file of
``--size-mib`` (1,024) MiB, then runs ``--clients`` (20) curl processes that
each download the whole file at the same time, discarding it. The server's
resident memory (VmRSS, and the kernel's high-water mark VmHWM) is sampled
every 50 ms before, during and after. Prints the figures, checks that every
client received every byte, and writes JSON to bench/results/.

The server runs pinned to CPU 0, the clients to CPU 1; everything has a deadline.

Usage::

    python3 bench/bigfile.py
    python3 bench/bigfile.py --size-mib 256 --clients 5
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time

from harness import (
    LOAD_CPU,
    BenchError,
    ServerContext,
    ServerSpec,
    can_pin,
    interrupt_on_signals,
    machine_info,
    pinned,
    prepare,
    read_status_kib,
    running_server,
    write_results,
)

FILE_NAME = "big.bin"
SAMPLE_INTERVAL_S = 0.05
DOWNLOAD_TIMEOUT_S = 300.0
MIB = 1 << 20


def make_spec(size_bytes: int) -> ServerSpec:
    def setup(context: ServerContext) -> None:
        root = context.workdir / "docroot"
        root.mkdir()
        with (root / FILE_NAME).open("wb") as file:
            file.truncate(size_bytes)  # sparse: no disk space, the kernel serves zeros

    return ServerSpec(
        name="barehttp-serve",
        argv=(
            "{bin}/barehttp",
            "serve",
            "{workdir}/docroot",
            "--host",
            "{host}",
            "--port",
            "{port}",
            "--no-access-log",
        ),
        notes="barehttp serve, default settings",
        setup=setup,
        ready_path="/",
        ready_body=None,
    )


class MemorySampler(threading.Thread):
    """Samples VmRSS of ``pid`` until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.peak_kib = max(self.peak_kib, read_status_kib(self.pid, "VmRSS"))
                self.samples += 1
            except (OSError, ValueError):
                return
            time.sleep(SAMPLE_INTERVAL_S)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def download_all(url: str, clients: int, pin: bool) -> list[int]:
    """Start ``clients`` curls at once; returns the bytes each one received."""
    argv = pinned(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            "--max-time",
            str(int(DOWNLOAD_TIMEOUT_S)),
            url,
        ],
        LOAD_CPU,
        pin,
    )
    processes = [
        subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        for _ in range(clients)
    ]
    received = []
    try:
        for process in processes:
            out, _ = process.communicate(timeout=DOWNLOAD_TIMEOUT_S + 10)
            received.append(int(out or b"0"))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return received


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--no-install", action="store_true", help="skip venv and apt checks")
    args = parser.parse_args()
    interrupt_on_signals()
    bin_dir = prepare(["curl"], install=not args.no_install)
    pin = can_pin()
    size = args.size_mib * MIB
    spec = make_spec(size)
    with running_server(spec, bin_dir=bin_dir, threads=0, pin=pin) as server:
        url = f"http://{server.context.host}:{server.context.port}/{FILE_NAME}"
        before_kib = read_status_kib(server.pid, "VmRSS")
        sampler = MemorySampler(server.pid)
        sampler.start()
        started = time.monotonic()
        received = download_all(url, args.clients, pin)
        elapsed = time.monotonic() - started
        sampler.stop()
        after_kib = read_status_kib(server.pid, "VmRSS")
        high_water_kib = read_status_kib(server.pid, "VmHWM")
    complete = sum(1 for count in received if count == size)
    total_gib = sum(received) / (1 << 30)
    print(f"{args.clients} clients x {args.size_mib} MiB from barehttp serve")
    print(
        f"  complete downloads: {complete}/{args.clients}, {total_gib:.1f} GiB in {elapsed:.1f} s "
        f"({total_gib / elapsed:.2f} GiB/s)"
    )
    print(
        f"  server RSS: {before_kib / 1024:.1f} MiB before, peak {sampler.peak_kib / 1024:.1f} "
        f"MiB during ({sampler.samples} samples), {after_kib / 1024:.1f} MiB after; "
        f"VmHWM {high_water_kib / 1024:.1f} MiB"
    )
    growth_mib = (sampler.peak_kib - before_kib) / 1024
    print(
        f"  growth while serving: {growth_mib:+.1f} MiB "
        f"(the file is {args.size_mib} MiB, {args.clients} copies would be "
        f"{args.size_mib * args.clients} MiB)"
    )
    path = write_results(
        "bigfile",
        {
            "machine": machine_info(),
            "size_mib": args.size_mib,
            "clients": args.clients,
            "complete": complete,
            "elapsed_s": elapsed,
            "rss_before_kib": before_kib,
            "rss_peak_kib": sampler.peak_kib,
            "rss_after_kib": after_kib,
            "vm_hwm_kib": high_water_kib,
        },
    )
    print(f"results: {path}")
    return 0 if complete == args.clients else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        sys.exit(2)
