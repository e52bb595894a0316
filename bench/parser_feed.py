"""Micro-benchmark of RequestParser.feed: this checkout against another, in one process.

    python3 bench/parser_feed.py --baseline /work/main/src [--rounds N]

Times ``feed`` on a typical browser GET, a pipelined batch of 16 GETs and a
chunked upload of 16 chunks, plain and with an extension on each chunk. Both parsers are loaded
into one interpreter (each from its own ``src``) and timed in alternation, so
that the noise of a shared machine hits both alike; the process is pinned to
CPU 0 with ``taskset`` when present, and the thread's CPU time is measured.
Prints microseconds per parse (best of the rounds) and the ratio
``this/baseline`` (below 1.00x: this one is faster).
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

GET = (
    b"GET /accounts/42/settings?tab=profile HTTP/1.1\r\nHost: example.com\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
    b"Cookie: session=0123456789abcdef0123456789abcdef\r\nConnection: keep-alive\r\n\r\n"
)
PIPELINE = b"".join(GET.replace(b"/42/", b"/%d/" % index) for index in range(16))
CHUNKED_HEAD = b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNKED = (
    CHUNKED_HEAD + b"".join(b"100\r\n" + b"y" * 256 + b"\r\n" for _ in range(16)) + b"0\r\n\r\n"
)
CHUNKED_EXTENSIONS = CHUNKED.replace(b"100\r\n", b"100;n=1\r\n")


def load_parser(src: Path) -> Any:
    """``RequestParser`` from the barehttp in ``src``, loaded beside any other."""
    for name in [name for name in sys.modules if name.split(".")[0] == "barehttp"]:
        del sys.modules[name]
    sys.path.insert(0, str(src))
    try:
        return importlib.import_module("barehttp.protocol.parser").RequestParser
    finally:
        sys.path.remove(str(src))


def cases(parser_class: Any) -> dict[str, Callable[[], object]]:
    # One Limits for all, as a server passes its own to each connection's parser.
    limits = sys.modules[parser_class.__module__].Limits()

    def one(data: bytes) -> Callable[[], object]:
        return lambda: parser_class(limits).feed(data)

    def pipelined() -> None:
        parser = parser_class(limits)
        parser.feed(PIPELINE)
        while parser.buffered_bytes:
            parser.start_next()
            parser.feed(b"")

    return {
        "get": one(GET),
        "pipelined-16": pipelined,
        "chunked-16": one(CHUNKED),
        "chunked-16-ext": one(CHUNKED_EXTENSIONS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout's src")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--number", type=int, default=2_000, help="parses per timing")
    args = parser.parse_args()
    if shutil.which("taskset") and not os.environ.get("PARSER_FEED_PINNED"):
        os.environ["PARSER_FEED_PINNED"] = "1"
        os.execvp("taskset", ["taskset", "-c", "0", sys.executable, *sys.argv])
    contenders = {
        "this": cases(load_parser(HERE_SRC)),
        "baseline": cases(load_parser(args.baseline)),
    }
    best: dict[tuple[str, str], float] = {}
    for _ in range(args.rounds):
        for label, functions in contenders.items():
            for name, function in functions.items():
                # CPU time of this thread, not wall time: on a loaded machine the
                # process is often descheduled, which wall time would count.
                timer = timeit.Timer(function, timer=time.thread_time)
                seconds = timer.timeit(number=args.number) / args.number
                best[label, name] = min(seconds, best.get((label, name), float("inf")))
    for name in contenders["this"]:
        this, base = best["this", name] * 1e6, best["baseline", name] * 1e6
        print(f"{name:14} this {this:7.2f} us   baseline {base:7.2f} us   ratio {this / base:.2f}x")


if __name__ == "__main__":
    main()
