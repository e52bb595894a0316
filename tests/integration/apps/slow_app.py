"""A web App with a slow route, run as a subprocess by the graceful-shutdown tests.

Usage: python slow_app.py --port PORT --hook-file PATH [--shutdown-timeout S]

``GET /slow?seconds=S`` logs ``slow request started``, sleeps S seconds and
answers 200; ``GET /held`` logs ``held request started`` and answers 200 once
the file ``<hook-file>.release`` exists (at most 60 s); ``GET /`` answers at
once. The log lines tell a test that a request is in its handler. The shutdown
hook writes ``hook ran`` to ``--hook-file``, so a test can see that hooks run
after the drain.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import pathlib
import sys
import time

from barehttp.cli import DEFAULT_LIMITS, configure_logging
from barehttp.server.serve import serve
from barehttp.web import App, Request, Response

HELD_LIMIT_S = 60.0
log = logging.getLogger("slow_app")


def release_file(hook_file: pathlib.Path) -> pathlib.Path:
    """The file whose creation lets ``GET /held`` answer."""
    return hook_file.with_name(hook_file.name + ".release")


def build_app(hook_file: pathlib.Path) -> App:
    app = App()

    @app.get("/")
    def index(request: Request) -> Response:
        return Response.text("ready")

    @app.get("/slow")
    def slow(request: Request) -> Response:
        seconds = float(request.query.get("seconds", ["1"])[0])
        log.info("slow request started")
        time.sleep(seconds)
        return Response.text(f"slept {seconds}")

    @app.get("/held")
    def held(request: Request) -> Response:
        log.info("held request started")
        deadline = time.monotonic() + HELD_LIMIT_S
        while not release_file(hook_file).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return Response.text("released")

    return app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hook-file", type=pathlib.Path, required=True)
    parser.add_argument("--shutdown-timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    configure_logging("INFO", access_log=True)
    hook_file: pathlib.Path = args.hook_file

    def write_hook_file() -> None:
        hook_file.write_text("hook ran\n")

    limits = dataclasses.replace(
        DEFAULT_LIMITS, shutdown_timeout_s=args.shutdown_timeout, idle_timeout_s=30.0
    )
    serve(build_app(hook_file), port=args.port, limits=limits, on_shutdown=[write_hook_file])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
