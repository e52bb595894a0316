"""What each command of the command line does, once its options are parsed (see cli.py)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from barehttp.app.settings import AccountSettings
from barehttp.cli_limits import limits_from_args, websocket_limits_from_args
from barehttp.config.deploy import deploy_kwargs
from barehttp.config.startup import app_load_check, port_hint
from barehttp.server.signals import set_reexec_check
from barehttp.server.workers import WorkerOptions

if TYPE_CHECKING:
    from barehttp.server.handler import Handler
    from barehttp.storage.base import Storage

DEFAULT_ACCOUNT_SETTINGS = AccountSettings()


def worker_options_from_args(args: argparse.Namespace) -> WorkerOptions | None:
    """The worker settings, or None to serve from this one process."""
    if args.workers <= 1 and not args.max_requests:
        return None
    return WorkerOptions(max(1, args.workers), args.max_requests, args.max_requests_jitter)


def server_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``serve()`` from the shared server options."""
    if args.keyfile and not args.certfile:
        raise SystemExit("barehttp: --keyfile needs --certfile")
    limits = limits_from_args(args)
    return {
        "host": args.host or None,
        "port": args.port,
        "limits": limits,
        "access_log": args.access_log,
        "certfile": args.certfile,
        "keyfile": args.keyfile,
        "redirect_http_port": args.redirect_http_port,
        **deploy_kwargs(args, limits),
    }


def run_hello(args: argparse.Namespace) -> int:
    from barehttp.server.hello import hello
    from barehttp.server.serve import serve

    return serve(hello, **server_kwargs(args))


def run_serve(args: argparse.Namespace) -> int:
    from barehttp.server.serve import serve
    from barehttp.web.static import StaticFiles
    from barehttp.web.static_site import StaticSite

    try:
        files = StaticFiles(
            args.directory,
            listing=args.listing,
            show_dotfiles=args.dotfiles,
            cache_control=args.cache_control or None,
        )
    except ValueError as error:
        logging.getLogger("barehttp").error("%s%s", error, port_hint(args.directory))
        return 2
    kwargs = server_kwargs(args)
    return serve(StaticSite(files, limits=kwargs["limits"]), **kwargs)


def parse_worker_count(text: str) -> int:
    """``--workers``: a number, or ``auto``/``0`` for one per CPU."""
    from barehttp.server.workers import cpu_count

    if text in ("auto", "0"):
        return cpu_count()
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError("workers must be 0/auto or a positive number")
    return count


def parse_session_lifetime(text: str) -> float:
    """``--session-lifetime``: seconds, at least 1 and finite."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    # The cookie's Max-Age is whole seconds: below 1 it would be 0, which deletes it.
    if not math.isfinite(seconds) or seconds < 1:
        raise argparse.ArgumentTypeError("must be a finite number of seconds, at least 1")
    return seconds


def parse_poll_interval(text: str) -> float:
    """``--live-credits-poll``: seconds, above 0 and finite."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError("must be a finite number of seconds above 0")
    return seconds


def parse_credit_limit(text: str) -> int:
    """``--default-credits``: a whole number the storage accepts as a credit limit."""
    from barehttp.storage.base import MAX_CREDITS

    try:
        credits = int(text)
    except ValueError:
        credits = -1
    if not 0 <= credits <= MAX_CREDITS:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {MAX_CREDITS}")
    return credits


def account_settings_from_args(args: argparse.Namespace) -> AccountSettings:
    return dataclasses.replace(
        DEFAULT_ACCOUNT_SETTINGS,
        session_lifetime_s=args.session_lifetime,
        default_credits_limit=args.default_credits,
        live_credits_poll_s=args.live_credits_poll,
    )


def run_wsgi(args: argparse.Namespace) -> int:
    from barehttp.wsgi.loader import AppLoadError, check_app, load_app
    from barehttp.wsgi.serve import serve_wsgi

    workers = worker_options_from_args(args)  # refuses what workers cannot honour
    spec: str = args.app
    chdir: str | None = args.chdir
    try:  # fail fast, before binding or forking
        if workers is not None:
            check_app(spec, chdir=chdir)  # workers import it themselves: SIGHUP reloads code
        else:
            load_app(spec, chdir=chdir)
            set_reexec_check(app_load_check(spec))  # SIGHUP: new code must load first
    except AppLoadError as error:
        logging.getLogger("barehttp").error("%s", error)
        return 2
    return serve_wsgi(
        app_factory=lambda: load_app(spec),
        **server_kwargs(args),
        root_path=args.root_path,
        workers=args.workers,
        max_requests=args.max_requests,
        max_requests_jitter=args.max_requests_jitter,
    )


def run_asgi_command(args: argparse.Namespace) -> int:
    from barehttp.asgi.command import run_asgi

    workers = worker_options_from_args(args)
    if workers is None:  # SIGHUP re-executes in place once the new code loads
        set_reexec_check(app_load_check(args.app, "barehttp.asgi.loader"))
    kwargs = {**server_kwargs(args), "websocket_limits": websocket_limits_from_args(args)}
    return run_asgi(args, kwargs, workers)


def run_app(args: argparse.Namespace) -> int:
    from barehttp.app.web_app import create_app
    from barehttp.server.serve import serve, serve_in_workers
    from barehttp.storage.base import StorageError
    from barehttp.storage.opener import choose_location, describe, open_storage

    kwargs = {**server_kwargs(args), "websocket_limits": websocket_limits_from_args(args)}
    settings = account_settings_from_args(args)
    workers = worker_options_from_args(args)
    location = choose_location(args.db)
    try:  # applies migrations once, before any fork
        storage = open_storage(location, pool_size=args.db_pool)
    except (StorageError, ValueError) as error:
        logger = logging.getLogger("barehttp")
        logger.error("cannot open database %s: %s", describe(location), error)
        return 1
    # The app's own steps (the live credits poll stops) run before the storage closes.
    hooks: list[Callable[[], None]] = []
    if workers is None:
        app = create_app(storage, settings, limits=kwargs["limits"], on_shutdown=hooks)
        # Closed only after in-flight requests finished: they may still be writing.
        return serve(app, **kwargs, on_shutdown=[*hooks, storage.close])
    storage.close()  # each worker opens its own: connections must not cross a fork
    worker_storage: list[Storage] = []

    def make_handler() -> Handler:
        worker_storage.append(open_storage(location, pool_size=args.db_pool))
        return create_app(worker_storage[-1], settings, limits=kwargs["limits"], on_shutdown=hooks)

    return serve_in_workers(
        make_handler,
        options=workers,
        worker_shutdown_hooks=lambda: [*hooks, *(opened.close for opened in worker_storage)],
        **kwargs,
    )


def run_users_list(args: argparse.Namespace) -> int:
    from barehttp.app.admin import list_users

    storage = _open_existing_db(args.db)
    if storage is None:
        return 1
    try:
        users = list_users(storage)
    finally:
        storage.close()
    rows = [("ID", "USERNAME", "EMAIL", "USED", "LIMIT")]
    rows += [
        (str(user.id), user.username, user.email, str(user.credits_used), str(user.credits_limit))
        for user in users
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")
    if not users:
        sys.stdout.write("(no users)\n")
    return 0


def run_users_set_limit(args: argparse.Namespace) -> int:
    from barehttp.app.admin import set_limit
    from barehttp.storage.base import MAX_CREDITS, UserNotFound

    try:
        limit = int(args.limit)
    except ValueError:
        limit = -1
    if not 0 <= limit <= MAX_CREDITS:
        sys.stderr.write(f"barehttp: limit must be a whole number from 0 to {MAX_CREDITS}\n")
        return 2
    storage = _open_existing_db(args.db)
    if storage is None:
        return 1
    try:
        user = set_limit(storage, args.name, limit)
    except UserNotFound:
        sys.stderr.write(f"barehttp: no such user: {args.name}\n")
        return 1
    finally:
        storage.close()
    sys.stdout.write(f"{user.username}: limit {user.credits_limit}, used {user.credits_used}\n")
    return 0


def _open_existing_db(given: str | None) -> Storage | None:
    """The storage at --db (or $BAREHTTP_DB), or None after an error message.

    Never creates a SQLite file.
    """
    from barehttp.storage.base import StorageError
    from barehttp.storage.opener import choose_location, describe, is_missing_file, open_storage

    location = choose_location(given)
    if is_missing_file(location):
        sys.stderr.write(f"barehttp: no database at {location} (start `barehttp app` first)\n")
        return None
    try:
        return open_storage(location, pool_size=2)
    except (StorageError, ValueError) as error:
        sys.stderr.write(f"barehttp: cannot open database {describe(location)}: {error}\n")
        return None


def run_db_copy(args: argparse.Namespace) -> int:
    from barehttp.storage.base import StorageError
    from barehttp.storage.dburl import redact
    from barehttp.storage.transfer import copy_database

    try:
        report = copy_database(args.source, args.target, replace=args.force)
    except (StorageError, ValueError) as error:
        sys.stderr.write(f"barehttp: db copy: {error}\n")
        return 1
    sys.stdout.write(
        f"copied {report.summary()} from {redact(args.source)} to {redact(args.target)}\n"
    )
    return 0
