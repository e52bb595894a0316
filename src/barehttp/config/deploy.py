"""Deployment options shared by every server command: sockets, proxies in front of it."""

from __future__ import annotations

import argparse
from typing import Any

from barehttp.config.startup import check_tls_files
from barehttp.protocol.forwarded import DEFAULT_FORWARDED_ALLOW_IPS, TrustedProxies
from barehttp.protocol.limits import Limits
from barehttp.server.listener import bind_listeners


def allow_list(text: str) -> str:
    """An argparse type: a valid ``--forwarded-allow-ips`` list, kept as given."""
    try:
        TrustedProxies.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_deploy_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("deployment")
    group.add_argument(
        "--forwarded-allow-ips",
        type=allow_list,
        default=DEFAULT_FORWARDED_ALLOW_IPS,
        metavar="LIST",
        help="peers whose Forwarded / X-Forwarded-For/-Proto/-Host headers set the client "
        "address, scheme and host: addresses and CIDR ranges, '*' for any, '' for none "
        f"(default {DEFAULT_FORWARDED_ALLOW_IPS})",
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
    return {
        "forwarded_allow_ips": args.forwarded_allow_ips,
        "listeners": bind_listeners(args.host or None, args.port, limits),
    }
