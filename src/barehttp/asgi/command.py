"""The ``barehttp asgi`` command's own options and its run function."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from barehttp.asgi.lifespan import LIFESPAN_MODES
from barehttp.asgi.loader import AppLoadError, load_app
from barehttp.asgi.serve import NotYetSupported, serve_asgi

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


def run_asgi(args: argparse.Namespace, server_kwargs: dict[str, Any]) -> int:
    """Load the app (fail fast, before serving), then serve it."""
    try:
        app = load_app(args.app, chdir=args.chdir)
    except AppLoadError as error:
        logger.error("%s", error)
        return 2
    kwargs = {k: v for k, v in server_kwargs.items() if k not in ("host", "port")}
    try:
        return serve_asgi(lambda: app, root_path=args.root_path, lifespan=args.lifespan, **kwargs)
    except NotYetSupported as error:
        logger.error("%s", error)
        return 2
