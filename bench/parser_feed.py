"""Micro-benchmark of RequestParser.feed: one checkout against another, in one run.

    python3 bench/parser_feed.py [--baseline SRC_DIR] [--rounds N]

Times ``feed`` on a typical browser GET, a pipelined batch of 16 GETs and a
chunked upload, each in a fresh interpreter pinned to CPU 0 with ``taskset``
(when present), for this checkout's ``src`` and, with ``--baseline``, another
checkout's ``src`` (e.g. ``/work/main/src``), alternating the two so that
machine noise hits both alike. Prints microseconds per parse (best of the
rounds) and the ratio ``this/baseline`` (below 1.00x: this checkout is faster).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE_SRC = Path(__file__).resolve().parent.parent / "src"

# Run in the child interpreter: stdlib only, barehttp from PYTHONPATH.
CHILD = r"""
import json, sys, timeit
from barehttp.protocol.parser import RequestParser
GET = (b"GET /accounts/42/settings?tab=profile HTTP/1.1\r\nHost: example.com\r\n"
       b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
       b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
       b"Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
       b"Cookie: session=0123456789abcdef0123456789abcdef\r\nConnection: keep-alive\r\n\r\n")
PIPELINE = b"".join(GET.replace(b"/42/", b"/%d/" % i) for i in range(16))
CHUNKED = (b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
           + b"".join(b"100;n=1\r\n" + b"y" * 256 + b"\r\n" for _ in range(16)) + b"0\r\n\r\n")

def one(data):
    parser = RequestParser()
    parser.feed(data)

def pipelined():
    parser = RequestParser()
    count = len(parser.feed(PIPELINE))
    while parser.buffered_bytes:
        parser.start_next()
        count += len(parser.feed(b""))

cases = {"get": lambda: one(GET), "pipelined-16": pipelined, "chunked-16": lambda: one(CHUNKED)}
number = int(sys.argv[1])
result = {}
for name, function in cases.items():
    function()
    result[name] = min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6
print(json.dumps(result))
"""


def measure(src: Path, number: int) -> dict[str, float]:
    command = [sys.executable, "-c", CHILD, str(number)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    output = subprocess.run(
        command, env={"PYTHONPATH": str(src)}, capture_output=True, text=True, check=True
    ).stdout
    return dict(json.loads(output))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout's src directory")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--number", type=int, default=5_000, help="parses per timing")
    args = parser.parse_args()
    best: dict[str, dict[str, float]] = {"this": {}, "baseline": {}}
    for _ in range(args.rounds):
        for label, src in (("this", HERE_SRC), ("baseline", args.baseline)):
            if src is None:
                continue
            for name, value in measure(src, args.number).items():
                best[label][name] = min(value, best[label].get(name, float("inf")))
    for name, value in best["this"].items():
        line = f"{name:14} this {value:7.2f} us"
        if best["baseline"]:
            base = best["baseline"][name]
            line += f"   baseline {base:7.2f} us   this/baseline {value / base:.2f}x"
        print(line)


if __name__ == "__main__":
    main()
