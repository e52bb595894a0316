"""Long differential fuzzing of the request parser against h11 (and llhttp, via httptools).

    python3 bench/fuzz.py --duration 600 --jobs 1            # generated streams
    python3 bench/fuzz.py --duration 600 --mode atheris      # coverage-guided

The generator and the checks are those of tests/protocol/test_differential.py
(tests/protocol/differential.py): pipelined requests near the edges, fed to
barehttp whole, in random pieces and byte by byte, and to h11. Every problem is
printed with a minimal reproducer: a crash (an exception other than HTTPError),
split dependence, or a framing disagreement. With httptools installed, each
stream is also compared with llhttp: messages both accept must be framed alike
(llhttp refuses more than h11 does, e.g. methods outside its table, so its
refusals are not compared). In atheris mode, half the inputs are libFuzzer's raw
bytes and half go through the generator with its choices taken from the bytes.

The reference parsers (h11, httptools, atheris) are installed at run time into
bench/.venv-fuzz, never as project dependencies; atheris is skipped with a
warning where it does not install. Ends with inputs per second and totals.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv-fuzz"
PACKAGES = ["h11==0.16.0", "httptools==0.9.0"]
T = TypeVar("T")


def ensure_venv() -> None:
    """Re-run this script inside bench/.venv-fuzz, building it when missing."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, *PACKAGES, "-e", str(ROOT)], check=True)
        if subprocess.run([*pip, "atheris==3.0.0"], check=False).returncode != 0:
            print("warning: atheris did not install; --mode atheris unavailable", file=sys.stderr)
    os.execv(str(python), [str(python), *sys.argv])


class RandomChooser:
    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def choice(self, options: Sequence[T]) -> T:
        return self._random.choice(options)

    def integer(self, low: int, high: int) -> int:
        return self._random.randint(low, high)


class BytesChooser:
    """Decisions taken from atheris' input bytes (zeros once they run out)."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider

    def choice(self, options: Sequence[T]) -> T:
        return options[self._provider.ConsumeIntInRange(0, len(options) - 1)]

    def integer(self, low: int, high: int) -> int:
        return int(self._provider.ConsumeIntInRange(low, high))


def parse_with_llhttp(data: bytes) -> Any:
    """Complete messages per llhttp (httptools), stopping at the first that closes."""
    import httptools  # type: ignore[import-not-found]
    from tests.protocol.differential import Parsed, Result

    messages: list[Parsed] = []
    state: dict[str, Any] = {"url": b"", "body": bytearray(), "stop": False}

    class Callbacks:
        def on_url(self, url: bytes) -> None:
            state["url"] += url

        def on_body(self, body: bytes) -> None:
            state["body"] += body

        def on_message_complete(self) -> None:
            keep_alive = parser.should_keep_alive()
            version = parser.get_http_version().encode()
            version = version if version == b"1.0" else b"1.1"
            messages.append(
                Parsed(parser.get_method(), state["url"], version, bytes(state["body"]), keep_alive)
            )
            state["url"], state["body"] = b"", bytearray()

    parser = httptools.HttpRequestParser(Callbacks())
    try:
        parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        return Result(messages, False)
    except httptools.HttpParserError as error:
        return Result(messages, True, str(error))
    return Result(messages, False)


def report(kind: str, data: bytes, problem: str, check: Any) -> None:
    small = check.minimize(data, lambda candidate: check.check_stream(candidate, []) is not None)
    print(f"{kind}: {problem}\n  input: {data!r}\n  minimal: {small!r}", flush=True)


def run_random(job: int, seed: int, duration: float, use_llhttp: bool) -> tuple[int, int, int]:
    """Streams checked, problems found, llhttp disagreements, in ``duration`` seconds."""
    sys.path.insert(0, str(ROOT))
    from tests.protocol import differential as check

    chooser = RandomChooser(seed * 1_000 + job)
    deadline = time.monotonic() + duration
    count = problems = llhttp_disagreements = 0
    while time.monotonic() < deadline:
        for _ in range(100):
            data = check.generate_stream(chooser)
            problem = check.check_stream(data, check.generate_splits(chooser, len(data)))
            if problem is not None:
                problems += 1
                report("PROBLEM", data, problem, check)
            elif use_llhttp:
                ours = check.parse_with_barehttp(data)[2]
                other = check.compare(ours, parse_with_llhttp(data), "llhttp")
                # Only messages both accept and frame differently count: llhttp refuses
                # more than h11 (a fixed method table, any repeated Content-Length, ...).
                if other is not None and other.startswith("message"):
                    llhttp_disagreements += 1
                    if llhttp_disagreements <= 5:
                        print(f"llhttp: {other}\n  input: {data!r}", flush=True)
            count += 1
    return count, problems, llhttp_disagreements


def run_atheris(duration: float, jobs: int) -> None:
    import atheris  # type: ignore[import-not-found]

    sys.path.insert(0, str(ROOT))
    from tests.protocol import differential as check

    atheris.instrument_all()  # coverage feedback from barehttp (and h11), loaded above

    def test_one_input(raw: bytes) -> None:
        chooser = BytesChooser(atheris.FuzzedDataProvider(raw[1:]))
        if raw[:1] and raw[0] & 1:  # half the inputs are raw bytes, mutated by libFuzzer
            data = raw[1:]
        else:  # the other half go through the generator, its choices taken from the bytes
            data = check.generate_stream(chooser)
        problem = check.check_stream(data, check.generate_splits(chooser, len(data)))
        if problem is not None:
            report("PROBLEM", data, problem, check)
            raise AssertionError(problem)

    corpus = VENV / "corpus"
    corpus.mkdir(exist_ok=True)
    arguments = [sys.argv[0], f"-max_total_time={int(duration)}", "-print_final_stats=1"]
    if jobs > 1:
        arguments += [f"-fork={jobs}"]
    atheris.Setup([*arguments, str(corpus)], test_one_input)
    atheris.Fuzz()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes")
    parser.add_argument("--mode", choices=["random", "atheris"], default="random")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--no-llhttp", action="store_true", help="skip the httptools check")
    args = parser.parse_args()
    ensure_venv()
    if args.mode == "atheris":
        run_atheris(args.duration, args.jobs)
        return
    started = time.monotonic()
    with multiprocessing.Pool(args.jobs) as pool:
        results = pool.starmap(
            run_random,
            [(job, args.seed, args.duration, not args.no_llhttp) for job in range(args.jobs)],
        )
    elapsed = time.monotonic() - started
    count = sum(result[0] for result in results)
    problems = sum(result[1] for result in results)
    llhttp = sum(result[2] for result in results)
    print(
        f"{count} streams in {elapsed:.0f} s on {args.jobs} process(es): "
        f"{count / elapsed:.0f} inputs/s; {problems} crashes, split dependences or "
        f"disagreements with h11; {llhttp} framing disagreements with llhttp"
    )


if __name__ == "__main__":
    main()
