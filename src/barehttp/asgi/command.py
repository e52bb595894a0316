"""The ``barehttp asgi`` command's own options and its run function."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from barehttp.asgi.lifespan import LIFESPAN_MODES
from barehttp.asgi.loader import AppLoadError, check_app, load_app
from barehttp.asgi.serve import serve_asgi
from barehttp.server.workers import WorkerOptions

logger = logging.getLogger("barehttp")


def add_asgi_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "app", metavar="MODULE:APP", help="e.g. main:app (FastAPI, Starlette) or app:create_app()"
    )
    parser.add_argument("--root-path", default="", help="path prefix the app is mounted under")
    parser.add_argument(
        "--lifespan",
        choices=LIFESPAN_MODES,
        default="auto",
        help="ASGI lifespan events: auto (if the app supports them), on, off (default auto)",
    )
    parser.add_argument(
        "--chdir", default=None, help="change to this directory before loading the app"
    )


def run_asgi(
    args: argparse.Namespace, server_kwargs: dict[str, Any], workers: WorkerOptions | None
) -> int:
    """Load the app (fail fast, before serving or forking), then serve it."""
    spec: str = args.app
    try:
        if workers is not None:
            check_app(spec, chdir=args.chdir)  # workers import it themselves: SIGHUP reloads
            app = None
        else:
            app = load_app(spec, chdir=args.chdir)
    except AppLoadError as error:
        logger.error("%s", error)
        return 2
    return serve_asgi(
        (lambda: app) if app is not None else (lambda: load_app(spec)),
        root_path=args.root_path,
        lifespan=args.lifespan,
        workers=workers,
        **server_kwargs,
    )
