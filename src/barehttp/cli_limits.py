"""The command line's limit options, driven by one table (``LIMIT_OPTIONS``).

Each row names the option, how its text is parsed, the field it sets (of
``Limits``, or of ``WebSocketLimits`` for the ``websocket`` section), its unit
(the metavar) and its help. ``add_limit_options`` declares the rows of a help
section, and ``limits_from_args`` / ``websocket_limits_from_args`` build the
dataclasses from them, so an option and the field it sets cannot drift apart.
A command that lacks the ``websocket`` section's options gets their defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from barehttp.config.sizes import byte_size
from barehttp.protocol.limits import NO_BODY_LIMIT, Limits
from barehttp.protocol.websocket_limits import WebSocketLimits

DEFAULT_LIMITS = Limits()
DEFAULT_WEBSOCKET_LIMITS = WebSocketLimits()
WEBSOCKET_SECTION = "websocket"


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


def _same(value: Any) -> Any:
    return value


def _body_cap(value: int | None) -> int:
    return NO_BODY_LIMIT if value is None else value  # None: `wsgi`, the app decides


@dataclass(frozen=True, slots=True)
class LimitOption:
    """One command-line option that sets one ``Limits`` (or ``WebSocketLimits``) field."""

    flags: tuple[str, ...]  # the option and its aliases; the first names args' attribute
    parse: Callable[[str], Any]  # text -> value, raising argparse.ArgumentTypeError
    # The field it sets (of WebSocketLimits in the websocket section, else of Limits);
    # its default is the option's default.
    field: str
    help: str
    unit: str | None = None  # the metavar shown in --help (None: argparse's own)
    section: str = "limits"  # the --help group it is listed in
    to_field: Callable[[Any], Any] = _same  # the parsed value -> the field's value
    has_default: bool = True  # False: absent unless given (an optional cap)

    @property
    def dest(self) -> str:
        return self.flags[0].removeprefix("--").replace("-", "_")

    @property
    def is_websocket(self) -> bool:
        return self.section == WEBSOCKET_SECTION

    @property
    def default(self) -> Any:
        defaults = DEFAULT_WEBSOCKET_LIMITS if self.is_websocket else DEFAULT_LIMITS
        return getattr(defaults, self.field)


LIMIT_OPTIONS: tuple[LimitOption, ...] = (
    LimitOption(
        ("--threads",),
        whole_number(1),
        "worker_threads",
        f"worker threads (default {DEFAULT_LIMITS.worker_threads})",  # as before: fixed
        section="server",
    ),
    LimitOption(
        ("--max-body",),
        byte_size,
        "max_body_bytes",
        "largest request body, in bytes or with K/M/G: 20M (413 beyond; default 1M, "
        "for wsgi none: the app decides)",
        unit="SIZE",
        to_field=_body_cap,
    ),
    LimitOption(
        ("--max-connections",),
        whole_number(1),
        "max_connections",
        "open connections at once; beyond, 503 and close (default %(default)s)",
        unit="N",
    ),
    LimitOption(
        ("--max-connections-per-ip",),
        whole_number(1),
        "max_connections_per_ip",
        "open connections from one client address before 429 (off by default)",
        unit="COUNT",
        has_default=False,
    ),
    LimitOption(
        ("--queue",),
        whole_number(1),
        "worker_queue_count",
        "jobs waiting for a worker before 503 (default %(default)s)",
    ),
    LimitOption(
        ("--idle-timeout", "--timeout-idle"),
        seconds(),
        "idle_timeout_s",
        "close keep-alive connections idle this long (default %(default)s)",
        unit="SECONDS",
    ),
    LimitOption(
        ("--header-timeout", "--timeout-header"),
        seconds(),
        "header_timeout_s",
        "408 if a request head takes longer (default %(default)s)",
        unit="SECONDS",
    ),
    LimitOption(
        ("--body-timeout", "--timeout-body"),
        seconds(),
        "body_timeout_s",
        "408 after this long without a body byte (default %(default)s)",
        unit="SECONDS",
    ),
    LimitOption(
        ("--write-timeout", "--timeout-write"),
        seconds(),
        "write_timeout_s",
        "drop a client whose response makes no progress this long (default %(default)s)",
        unit="SECONDS",
    ),
    LimitOption(
        ("--min-body-rate",),
        whole_number(0),
        "min_body_rate_bytes_per_s",
        "408 if a body averages less, after --body-timeout of grace (0: off; default %(default)s)",
        unit="BYTES_PER_S",
    ),
    LimitOption(
        ("--shutdown-timeout", "--timeout-shutdown"),
        seconds(allow_zero=True),
        "shutdown_timeout_s",
        "how long in-flight requests get after SIGTERM (default %(default)s)",
        unit="SECONDS",
    ),
    LimitOption(
        ("--ws-max-message",),
        byte_size,
        "max_message_bytes",
        "largest WebSocket message, in bytes or with K/M/G (close 1009 beyond; default "
        f"{DEFAULT_WEBSOCKET_LIMITS.max_message_bytes >> 20}M)",
        unit="SIZE",
        section=WEBSOCKET_SECTION,
    ),
    LimitOption(
        ("--ws-max-frame",),
        byte_size,
        "max_frame_bytes",
        "largest WebSocket frame, in bytes or with K/M/G (close 1009 beyond; default "
        f"{DEFAULT_WEBSOCKET_LIMITS.max_frame_bytes >> 20}M)",
        unit="SIZE",
        section=WEBSOCKET_SECTION,
    ),
    LimitOption(
        ("--ws-ping-interval",),
        seconds(),
        "ping_interval_s",
        "send a Ping after this long without a byte from the peer (default %(default)s)",
        unit="SECONDS",
        section=WEBSOCKET_SECTION,
    ),
    LimitOption(
        ("--ws-ping-timeout",),
        seconds(),
        "ping_timeout_s",
        "close 1011 and drop a peer silent this long after a Ping (default %(default)s)",
        unit="SECONDS",
        section=WEBSOCKET_SECTION,
    ),
    LimitOption(
        ("--ws-close-timeout",),
        seconds(),
        "close_timeout_s",
        "after our Close, wait this long for the peer's, then drop (default %(default)s)",
        unit="SECONDS",
        section=WEBSOCKET_SECTION,
    ),
    LimitOption(
        ("--ws-max-queued-messages",),
        whole_number(1),
        "max_queued_messages",
        "messages the app has not taken before reading pauses (default %(default)s)",
        unit="N",
        section=WEBSOCKET_SECTION,
    ),
)


def add_limit_options(
    group: argparse._ArgumentGroup, section: str, *, leave_out: frozenset[str] = frozenset()
) -> None:
    """Declare the table's options of one --help section, in table order, but for the
    fields in ``leave_out`` (options a command has no use for: it refuses them)."""
    for option in LIMIT_OPTIONS:
        if option.section != section or option.field in leave_out:
            continue
        extra: dict[str, Any] = {}
        if option.has_default:
            extra["default"] = option.default
        if option.unit is not None:
            extra["metavar"] = option.unit
        group.add_argument(*option.flags, type=option.parse, help=option.help, **extra)


def limits_from_args(args: argparse.Namespace) -> Limits:
    """``Limits`` from the parsed options; exits with one line if Limits refuses a value."""
    try:
        return dataclasses.replace(
            DEFAULT_LIMITS,
            **{
                option.field: option.to_field(getattr(args, option.dest))
                for option in LIMIT_OPTIONS
                if not option.is_websocket and hasattr(args, option.dest)
            },
        )
    except ValueError as error:  # Limits refused a value the option parsers let through
        raise SystemExit(f"barehttp: {error}") from None


def add_websocket_options(parser: argparse.ArgumentParser) -> None:
    """The ``WebSocketLimits`` options, in their own --help section (any serving command)."""
    add_limit_options(parser.add_argument_group("WebSocket limits"), WEBSOCKET_SECTION)


def websocket_limits_from_args(args: argparse.Namespace) -> WebSocketLimits:
    """``WebSocketLimits`` from the parsed options (defaults where a command has none);
    exits with one line, naming the option, if WebSocketLimits refuses a value."""
    given = {
        option: getattr(args, option.dest)
        for option in LIMIT_OPTIONS
        if option.is_websocket and hasattr(args, option.dest)
    }
    for option, value in given.items():
        try:
            dataclasses.replace(DEFAULT_WEBSOCKET_LIMITS, **{option.field: option.to_field(value)})
        except ValueError as error:
            raise SystemExit(f"barehttp: {option.flags[0]}: {error}") from None
    try:
        return dataclasses.replace(
            DEFAULT_WEBSOCKET_LIMITS,
            **{option.field: option.to_field(value) for option, value in given.items()},
        )
    except ValueError as error:  # a combination refused
        raise SystemExit(f"barehttp: {error}") from None
