"""Deployment options shared by every server command: sockets, proxies in front of it."""

from __future__ import annotations

import argparse
import atexit
import os
import socket
from collections.abc import Callable
from typing import Any

from barehttp.config.startup import check_tls_files
from barehttp.protocol.forwarded import DEFAULT_FORWARDED_ALLOW_IPS, TrustedProxies
from barehttp.protocol.limits import Limits
from barehttp.server.access_log import ACCESS_LOG_FORMATS
from barehttp.server.listener import InheritedSocket
from barehttp.server.sockets import ListenSpec, open_listeners, remove_unix_socket


def whole_number(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number, {minimum} or more")
        return int(text)

    return parse


def allow_list(text: str) -> str:
    """An argparse type: a valid ``--forwarded-allow-ips`` list, kept as given."""
    try:
        TrustedProxies.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def file_mode(text: str) -> int:
    """An argparse type: permission bits in octal, such as 660."""
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError(f"not an octal file mode such as 660: {text!r}")
    return mode


def add_deploy_options(parser: argparse.ArgumentParser) -> None:
    add_logging_options(parser)
    group = parser.add_argument_group("deployment")
    group.add_argument(
        "--uds",
        default=None,
        metavar="PATH",
        help="listen on this Unix socket instead of --host/--port (removed on exit)",
    )
    group.add_argument(
        "--uds-mode",
        type=file_mode,
        default=None,
        metavar="MODE",
        help="permission bits of the --uds socket, in octal, e.g. 660 (default: from the umask)",
    )
    group.add_argument(
        "--fd",
        type=whole_number(0),
        default=None,
        metavar="N",
        help="serve the listening socket inherited as file descriptor N; systemd socket "
        "activation (LISTEN_FDS) is used on its own",
    )
    group.add_argument(
        "--forwarded-allow-ips",
        type=allow_list,
        default=DEFAULT_FORWARDED_ALLOW_IPS,
        metavar="LIST",
        help="peers whose Forwarded / X-Forwarded-For/-Proto/-Host headers set the client "
        "address, scheme and host: addresses and CIDR ranges, '*' for any, '' for none "
        f"(default {DEFAULT_FORWARDED_ALLOW_IPS})",
    )


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("logging")
    group.add_argument(
        "--access-log-format",
        choices=ACCESS_LOG_FORMATS,
        default="common",
        help="common (NCSA) or combined (adds referer, user agent and the request's "
        "duration in seconds) (default common)",
    )


def add_reload_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reload",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="development: restart when a .py file under the app's directory changes (default off)",
    )


def deploy_kwargs(args: argparse.Namespace, limits: Limits) -> dict[str, Any]:
    """Keyword arguments for ``serve()`` and ``serve_in_workers()`` from these options.

    Checks the TLS files and opens the listening sockets now, before anything
    else starts (a database, say), so that a failure leaves nothing behind.

    Raises:
        StartupError, ListenError: one line for the user.
    """
    if args.certfile:
        check_tls_files(args.certfile, args.keyfile)
    spec = ListenSpec(
        host=args.host or None, port=args.port, uds=args.uds, uds_mode=args.uds_mode, fd=args.fd
    )
    listeners = open_listeners(spec, limits)
    for sock in listeners:
        if sock.family == socket.AF_UNIX and not isinstance(sock, InheritedSocket):
            inode = os.lstat(args.uds).st_ino
            atexit.register(remove_unix_socket, args.uds, inode, os.getpid())
    return {
        "forwarded_allow_ips": args.forwarded_allow_ips,
        "listeners": listeners,
        "access_log_format": args.access_log_format,
    }
