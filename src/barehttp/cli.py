"""The ``barehttp`` command: argument parsing, logging and signal set-up."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from barehttp import __version__
from barehttp.asgi.command import add_asgi_options
from barehttp.cli_commands import (
    DEFAULT_ACCOUNT_SETTINGS,
    parse_credit_limit,
    parse_poll_interval,
    parse_session_lifetime,
    parse_worker_count,
    run_app,
    run_asgi_command,
    run_db_copy,
    run_hello,
    run_serve,
    run_users_list,
    run_users_set_limit,
    run_wsgi,
    server_kwargs,
)
from barehttp.cli_help import FullHelpAction, name_command_parsers, parse_naming_command

# DEFAULT_LIMITS, limits_from_args and configure_logging stay importable from here.
from barehttp.cli_limits import DEFAULT_LIMITS as DEFAULT_LIMITS
from barehttp.cli_limits import add_limit_options, add_websocket_options, whole_number
from barehttp.cli_limits import limits_from_args as limits_from_args
from barehttp.config.deploy import add_deploy_options, add_reload_option
from barehttp.config.environment import apply_environment
from barehttp.config.logs import configure_logging as configure_logging
from barehttp.config.reload import run_reloading
from barehttp.config.startup import StartupError
from barehttp.server.listener import ListenError
from barehttp.server.signals import enable_reexec

PORT = whole_number(0, 65_535)  # 0: any free port


# The ASGI host runs on one event loop, with no pool of threads to size.
THREAD_POOL_FIELDS = frozenset({"worker_threads", "worker_queue_count"})


def add_server_options(
    parser: argparse.ArgumentParser,
    *,
    default_port: int = 8000,
    leave_out: frozenset[str] = frozenset(),
) -> None:
    """Options shared by every command that runs a server (but the limits' fields in
    ``leave_out``)."""
    group = parser.add_argument_group("server")
    group.add_argument(
        "--host", default="127.0.0.1", help="address to bind; '' for all (default 127.0.0.1)"
    )
    group.add_argument(
        "--port", type=PORT, default=default_port, help=f"TCP port (default {default_port})"
    )
    add_limit_options(group, "server", leave_out=leave_out)
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
    add_limit_options(parser.add_argument_group("limits"), "limits", leave_out=leave_out)
    add_deploy_options(parser)


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """Pre-forked worker processes (``wsgi``, ``asgi`` and ``app``)."""
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


DEFAULT_DB = "./barehttp.db"
DB_HELP = (
    f"SQLite file or postgresql:// URL (default: $BAREHTTP_DB, else {DEFAULT_DB}); "
    "give a PostgreSQL password with PGPASSWORD or ~/.pgpass rather than in the URL"
)


def add_db_option(parser: argparse.ArgumentParser) -> None:
    # No default shown: $BAREHTTP_DB may hold a password, and --help must not print it.
    parser.add_argument("--db", default=None, metavar="PATH_OR_URL", help=DB_HELP)


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
    add_server_options(asgi, leave_out=THREAD_POOL_FIELDS)
    add_websocket_options(asgi)
    add_worker_options(asgi)
    add_reload_option(asgi)
    asgi.set_defaults(run=run_asgi_command)

    app = commands.add_parser("app", help="run the accounts web app (SQLite or PostgreSQL)")
    add_server_options(app, default_port=8080)
    add_websocket_options(app)  # the live credits page
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
    poll_s = DEFAULT_ACCOUNT_SETTINGS.live_credits_poll_s
    accounts.add_argument(
        "--live-credits-poll",
        type=parse_poll_interval,
        default=poll_s,
        metavar="SECONDS",
        help="while a live credits page is open, each process reads the changes made by "
        f"other processes and instances, and ended sessions, this often (default {poll_s:g})",
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
