"""The ``barehttp`` command: argument parsing, logging and signal set-up."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from barehttp import __version__
from barehttp.app.settings import AccountSettings
from barehttp.asgi.command import add_asgi_options, run_asgi
from barehttp.cli_help import FullHelpAction, name_command_parsers, parse_naming_command
from barehttp.config.deploy import add_deploy_options, add_reload_option, deploy_kwargs
from barehttp.config.environment import apply_environment
from barehttp.config.logs import configure_logging
from barehttp.config.reload import run_reloading
from barehttp.config.sizes import byte_size
from barehttp.config.startup import StartupError, port_hint, wsgi_load_check
from barehttp.protocol.limits import NO_BODY_LIMIT, Limits
from barehttp.server.listener import ListenError
from barehttp.server.signals import enable_reexec, set_reexec_check
from barehttp.server.workers import WorkerOptions

if TYPE_CHECKING:
    from barehttp.server.handler import Handler
    from barehttp.storage.base import Storage

DEFAULT_LIMITS = Limits()
DEFAULT_ACCOUNT_SETTINGS = AccountSettings()


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [minimum, maximum], else a readable error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {value}")
        return value

    return parse


def seconds(*, allow_zero: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number of seconds, above zero unless ``allow_zero``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        # A timeout of 0, below 0, inf or nan would turn off a bound or break the server.
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            least = "0 or more" if allow_zero else "more than 0"
            raise argparse.ArgumentTypeError(f"must be a finite number of seconds, {least}")
        return value

    return parse


PORT = whole_number(0, 65_535)  # 0: any free port


def add_server_options(parser: argparse.ArgumentParser, *, default_port: int = 8000) -> None:
    """Options shared by every command that runs a server."""
    group = parser.add_argument_group("server")
    group.add_argument(
        "--host", default="127.0.0.1", help="address to bind; '' for all (default 127.0.0.1)"
    )
    group.add_argument(
        "--port", type=PORT, default=default_port, help=f"TCP port (default {default_port})"
    )
    group.add_argument(
        "--threads",
        type=whole_number(1),
        default=DEFAULT_LIMITS.worker_threads,
        help=f"worker threads (default {DEFAULT_LIMITS.worker_threads})",
    )
    group.add_argument(
        "--access-log",
        "--log",
        dest="access_log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Common Log Format lines on stderr (default on)",
    )
    group.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="least severe server log message shown on stderr (default INFO)",
    )
    tls = parser.add_argument_group("TLS")
    tls.add_argument("--certfile", default=None, help="PEM certificate chain: serve HTTPS")
    tls.add_argument("--keyfile", default=None, help="PEM private key (if not in --certfile)")
    tls.add_argument(
        "--redirect-http-port",
        type=whole_number(1, 65_535),
        default=None,
        metavar="PORT",
        help="with TLS: answer plain HTTP on PORT with 308 to https",
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-body",
        type=byte_size,
        default=DEFAULT_LIMITS.max_body_bytes,
        metavar="SIZE",
        help="largest request body, in bytes or with K/M/G: 20M (413 beyond; default 1M, "
        "for wsgi none: the app decides)",
    )
    limits.add_argument(
        "--max-connections",
        type=whole_number(1),
        default=DEFAULT_LIMITS.max_connections,
        metavar="N",
        help="open connections at once; beyond, 503 and close (default %(default)s)",
    )
    limits.add_argument(
        "--max-connections-per-ip",
        type=whole_number(1),
        metavar="COUNT",
        help="open connections from one client address before 429 (off by default)",
    )
    limits.add_argument(
        "--queue",
        type=whole_number(1),
        default=DEFAULT_LIMITS.worker_queue_count,
        help="jobs waiting for a worker before 503 (default %(default)s)",
    )
    limits.add_argument(
        "--idle-timeout",
        "--timeout-idle",
        type=seconds(),
        default=DEFAULT_LIMITS.idle_timeout_s,
        metavar="SECONDS",
        help="close keep-alive connections idle this long (default %(default)s)",
    )
    limits.add_argument(
        "--header-timeout",
        "--timeout-header",
        type=seconds(),
        default=DEFAULT_LIMITS.header_timeout_s,
        metavar="SECONDS",
        help="408 if a request head takes longer (default %(default)s)",
    )
    limits.add_argument(
        "--body-timeout",
        "--timeout-body",
        type=seconds(),
        default=DEFAULT_LIMITS.body_timeout_s,
        metavar="SECONDS",
        help="408 after this long without a body byte (default %(default)s)",
    )
    limits.add_argument(
        "--write-timeout",
        "--timeout-write",
        type=seconds(),
        default=DEFAULT_LIMITS.write_timeout_s,
        metavar="SECONDS",
        help="drop a client whose response makes no progress this long (default %(default)s)",
    )
    limits.add_argument(
        "--min-body-rate",
        type=whole_number(0),
        default=DEFAULT_LIMITS.min_body_rate_bytes_per_s,
        metavar="BYTES_PER_S",
        help="408 if a body averages less, after --body-timeout of grace "
        "(0: off; default %(default)s)",
    )
    limits.add_argument(
        "--shutdown-timeout",
        "--timeout-shutdown",
        type=seconds(allow_zero=True),
        default=DEFAULT_LIMITS.shutdown_timeout_s,
        metavar="SECONDS",
        help="how long in-flight requests get after SIGTERM (default %(default)s)",
    )
    add_deploy_options(parser)


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """Pre-forked worker processes (``wsgi`` and ``app``)."""
    group = parser.add_argument_group("worker processes")
    group.add_argument(
        "--workers",
        type=parse_worker_count,
        default=1,
        help="worker processes; 0 or auto = one per CPU (default 1)",
    )
    group.add_argument(
        "--max-requests",
        type=whole_number(0),
        default=0,
        help="recycle a worker after this many requests (0 = never, the default)",
    )
    group.add_argument(
        "--max-requests-jitter",
        type=whole_number(0),
        default=0,
        help="random extra requests per worker, so they do not recycle together (default 0)",
    )


def worker_options_from_args(args: argparse.Namespace) -> WorkerOptions | None:
    """The worker settings, or None to serve from this one process."""
    if args.workers <= 1 and not args.max_requests:
        return None
    return WorkerOptions(max(1, args.workers), args.max_requests, args.max_requests_jitter)


def limits_from_args(args: argparse.Namespace) -> Limits:
    try:
        return _limits_from_args(args)
    except ValueError as error:  # Limits refused a value the option parsers let through
        raise SystemExit(f"barehttp: {error}") from None


def _limits_from_args(args: argparse.Namespace) -> Limits:
    return dataclasses.replace(
        DEFAULT_LIMITS,
        worker_threads=args.threads,
        max_body_bytes=NO_BODY_LIMIT if args.max_body is None else args.max_body,
        max_connections=args.max_connections,
        max_connections_per_ip=args.max_connections_per_ip,
        worker_queue_count=args.queue,
        idle_timeout_s=args.idle_timeout,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        write_timeout_s=args.write_timeout,
        min_body_rate_bytes_per_s=args.min_body_rate,
        shutdown_timeout_s=args.shutdown_timeout,
    )


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
            set_reexec_check(wsgi_load_check(spec))  # SIGHUP: new code must load first
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


DEFAULT_DB = "./barehttp.db"
DB_HELP = (
    f"SQLite file or postgresql:// URL (default: $BAREHTTP_DB, else {DEFAULT_DB}); "
    "give a PostgreSQL password with PGPASSWORD or ~/.pgpass rather than in the URL"
)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    # No default shown: $BAREHTTP_DB may hold a password, and --help must not print it.
    parser.add_argument("--db", default=None, metavar="PATH_OR_URL", help=DB_HELP)


def run_app(args: argparse.Namespace) -> int:
    from barehttp.app.web_app import create_app
    from barehttp.server.serve import serve, serve_in_workers
    from barehttp.storage.base import StorageError
    from barehttp.storage.opener import choose_location, describe, open_storage

    kwargs = server_kwargs(args)
    settings = account_settings_from_args(args)
    workers = worker_options_from_args(args)
    location = choose_location(args.db)
    try:  # applies migrations once, before any fork
        storage = open_storage(location, pool_size=args.db_pool)
    except (StorageError, ValueError) as error:
        logger = logging.getLogger("barehttp")
        logger.error("cannot open database %s: %s", describe(location), error)
        return 1
    if workers is None:
        app = create_app(storage, settings, limits=kwargs["limits"])
        # Closed only after in-flight requests finished: they may still be writing.
        return serve(app, **kwargs, on_shutdown=[storage.close])
    storage.close()  # each worker opens its own: connections must not cross a fork
    worker_storage: list[Storage] = []

    def make_handler() -> Handler:
        worker_storage.append(open_storage(location, pool_size=args.db_pool))
        return create_app(worker_storage[-1], settings, limits=kwargs["limits"])

    return serve_in_workers(
        make_handler,
        options=workers,
        worker_shutdown_hooks=lambda: [opened.close for opened in worker_storage],
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


def add_db_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    database = commands.add_parser("db", help="move the accounts app's data between databases")
    actions = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    copy = actions.add_parser(
        "copy", help="copy accounts, quotas and sessions (SQLite <-> PostgreSQL, either way)"
    )
    copy.add_argument(
        "--from",
        dest="source",
        required=True,
        metavar="PATH_OR_URL",
        help="the database to read: a SQLite file or a postgresql:// URL",
    )
    copy.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="PATH_OR_URL",
        help="the database to fill: a SQLite file or a postgresql:// URL (must be empty)",
    )
    copy.add_argument(
        "--force", action="store_true", help="replace what the target holds (refused otherwise)"
    )
    copy.set_defaults(run=run_db_copy)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="barehttp",
        description="An HTTP/1.1 server written from first principles.",
        add_help=False,  # --help shows every command's options too
    )
    parser.add_argument(
        "-h", "--help", action=FullHelpAction, help="show every option of every command and exit"
    )
    parser.add_argument("--version", action="version", version=f"barehttp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    hello = commands.add_parser("hello", help="serve a built-in hello-world app")
    add_server_options(hello)
    hello.set_defaults(run=run_hello)

    static = commands.add_parser("serve", help="serve a directory's files, with listings")
    static.add_argument("directory", nargs="?", default=".", help="default: the current one")
    static.add_argument(
        "--listing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="HTML listing of directories without index.html (default on)",
    )
    static.add_argument(
        "--dotfiles",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="serve and list names starting with '.' (default off)",
    )
    static.add_argument(
        "--cache-control",
        default="no-cache",
        help="Cache-Control of files; '' for none (default no-cache: revalidate, get 304s)",
    )
    add_server_options(static)
    static.set_defaults(run=run_serve)

    wsgi = commands.add_parser("wsgi", help="host a WSGI application (Flask, Django, ...)")
    wsgi.add_argument(
        "app", metavar="MODULE:APP", help="e.g. myproject.wsgi:application or app:create_app()"
    )
    add_server_options(wsgi)
    wsgi.set_defaults(max_body=None)  # no cap: the application decides, as under gunicorn
    add_worker_options(wsgi)
    add_reload_option(wsgi)
    wsgi.add_argument("--root-path", default="", help="SCRIPT_NAME the app is mounted under")
    wsgi.add_argument(
        "--chdir", default=None, help="change to this directory before loading the app"
    )
    wsgi.set_defaults(run=run_wsgi)

    asgi = commands.add_parser("asgi", help="host an ASGI application (FastAPI, Starlette, ...)")
    add_asgi_options(asgi)
    add_server_options(asgi)
    add_reload_option(asgi)
    asgi.set_defaults(run=lambda args: run_asgi(args, server_kwargs(args)))

    app = commands.add_parser("app", help="run the accounts web app (SQLite or PostgreSQL)")
    add_server_options(app, default_port=8080)
    add_worker_options(app)
    add_reload_option(app)
    add_db_option(app)
    app.add_argument(
        "--db-pool",
        type=whole_number(1, 1_000),
        default=None,
        metavar="N",
        help="PostgreSQL connections per process (default 10); keep the total of all "
        "processes and instances under the server's max_connections",
    )
    accounts = app.add_argument_group("accounts")
    lifetime_s = DEFAULT_ACCOUNT_SETTINGS.session_lifetime_s
    accounts.add_argument(
        "--session-lifetime",
        type=parse_session_lifetime,
        default=lifetime_s,
        metavar="SECONDS",
        help=f"a session ends this long after sign-in (default {lifetime_s:g} = "
        f"{lifetime_s / 3600:g} h)",
    )
    accounts.add_argument(
        "--default-credits",
        type=parse_credit_limit,
        default=DEFAULT_ACCOUNT_SETTINGS.default_credits_limit,
        metavar="N",
        help="credit limit of new accounts; existing ones keep theirs "
        f"(default {DEFAULT_ACCOUNT_SETTINGS.default_credits_limit})",
    )
    app.set_defaults(run=run_app)

    users = commands.add_parser("users", help="accounts app administration")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    list_parser = user_commands.add_parser("list", help="every user with usage and limit")
    add_db_option(list_parser)
    list_parser.set_defaults(run=run_users_list)
    set_limit_parser = user_commands.add_parser("set-limit", help="set a user's credit limit")
    set_limit_parser.add_argument("name", help="username (case does not matter)")
    set_limit_parser.add_argument("limit", metavar="N", help="the new credit limit")
    add_db_option(set_limit_parser)
    set_limit_parser.set_defaults(run=run_users_set_limit)
    add_db_commands(commands)
    name_command_parsers(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    apply_environment(parser, os.environ)  # BAREHTTP_PORT=9000 and so on
    args = parse_naming_command(parser, argv)
    if hasattr(args, "log_level"):
        configure_logging(args.log_level, getattr(args, "access_log", True))
    try:
        command_line = sys.argv[1:] if argv is None else list(argv)
        if getattr(args, "reload", False):  # binds here (errors are one line), serves in a child
            return run_reloading(args, command_line, server_kwargs(args)["listeners"])
        enable_reexec(command_line)  # SIGHUP without workers restarts in place
        result: int = args.run(args)
    except (StartupError, ListenError) as error:  # one line, no traceback
        sys.stderr.write(f"barehttp: {error}\n")
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
