"""Micro-benchmark of writing response heads: this checkout against another, in one process.

    python3 bench/head_write.py --baseline /work/main/src [--rounds N]

Times ``format_head`` (the writer, for every response) and the WSGI adapter's
check of an application's headers, on a typical set of response fields. Both
checkouts are loaded into one interpreter and timed in alternation, pinned to
CPU 0 with ``taskset`` when present, measuring the thread's CPU time, as
bench/parser_feed.py does. Prints microseconds per call (best of the rounds) and
the ratio ``this/baseline`` (below 1.00x: this one is faster).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE_SRC = Path(__file__).resolve().parent.parent / "src"

FIELDS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Set-Cookie", "session=0123456789abcdef; Path=/; HttpOnly; SameSite=Lax"),
]
DATE = "Mon, 30 Nov 2026 12:00:00 GMT"


def load(src: Path) -> tuple[Any, Any]:
    """The writer and WSGI adapter modules of the barehttp in ``src``."""
    for name in [name for name in sys.modules if name.split(".")[0] == "barehttp"]:
        del sys.modules[name]
    sys.path.insert(0, str(src))
    try:
        writer = importlib.import_module("barehttp.protocol.writer")
        adapter = importlib.import_module("barehttp.wsgi.adapter")
        return writer, adapter
    finally:
        sys.path.remove(str(src))


def cases(modules: tuple[Any, Any]) -> dict[str, Callable[[], object]]:
    writer, adapter = modules

    def head() -> object:
        return writer.format_head(
            "HTTP/1.1", 200, FIELDS, date=DATE, content_length=42, chunked=False, keep_alive=True
        )

    def wsgi_headers() -> object:
        return adapter._check_headers([*FIELDS, ("Content-Length", "42")])

    return {"format-head": head, "wsgi-headers": wsgi_headers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout's src")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--number", type=int, default=5_000, help="calls per timing")
    args = parser.parse_args()
    if shutil.which("taskset") and not os.environ.get("HEAD_WRITE_PINNED"):
        os.environ["HEAD_WRITE_PINNED"] = "1"
        os.execvp("taskset", ["taskset", "-c", "0", sys.executable, *sys.argv])
    contenders = {"this": cases(load(HERE_SRC)), "baseline": cases(load(args.baseline))}
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for label, functions in contenders.items():
            for name, function in functions.items():
                timer = timeit.Timer(function, timer=time.thread_time)
                seconds = timer.timeit(number=args.number) / args.number
                best[label, name] = min(seconds, best.get((label, name), float("inf")))
    for name in contenders["this"]:
        this, base = best["this", name] * 1e6, best["baseline", name] * 1e6
        print(f"{name:14} this {this:7.2f} us   baseline {base:7.2f} us   ratio {this / base:.2f}x")


if __name__ == "__main__":
    main()
