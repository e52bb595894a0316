"""Option defaults from ``BAREHTTP_<OPTION>`` environment variables; the command line wins.

``--max-body`` reads ``BAREHTTP_MAX_BODY``, ``--forwarded-allow-ips`` reads
``BAREHTTP_FORWARDED_ALLOW_IPS``: the first long name, upper-cased, ``-`` as
``_``. Containers and systemd units configure a server this way. A value is
checked as the option's own would be; a bad one stops the command naming the
variable. Switches (``--access-log/--no-access-log``, ``--listing``) take
``1/true/yes/on`` or ``0/false/no/off``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Mapping

PREFIX = "BAREHTTP_"
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
# Options that make no sense as a standing default.
NOT_FROM_ENVIRONMENT = frozenset({"--help", "--version"})
EPILOG = (
    "Every option can also come from the environment as BAREHTTP_<OPTION> "
    "(BAREHTTP_PORT=9000, BAREHTTP_MAX_BODY=20M, BAREHTTP_ACCESS_LOG=off); "
    "the command line wins."
)


def variable_name(action: argparse.Action) -> str | None:
    """``BAREHTTP_MAX_BODY`` for ``--max-body``; None for positionals and --help."""
    long_names = [name for name in action.option_strings if name.startswith("--")]
    if not long_names or long_names[0] in NOT_FROM_ENVIRONMENT:
        return None
    if isinstance(action, argparse.BooleanOptionalAction):
        long_names = [name for name in long_names if not name.startswith("--no-")]
    return PREFIX + long_names[0][2:].upper().replace("-", "_")


def apply_environment(parser: argparse.ArgumentParser, environ: Mapping[str, str]) -> None:
    """Make each ``BAREHTTP_*`` variable the default of its option, in every subcommand.

    Exits with status 2 and a one-line message naming a variable whose value
    is invalid, as argparse does for a bad command-line value. Each parser's
    --help ends by saying so.
    """
    for each_parser in _all_parsers(parser):
        each_parser.epilog = each_parser.epilog or EPILOG
        for action in each_parser._actions:
            name = variable_name(action)
            if name is None or name not in environ:
                continue
            try:
                action.default = _convert(action, environ[name])
            except (argparse.ArgumentTypeError, ValueError) as error:
                each_parser.error(f"{name}={environ[name]!r}: {error}")
            action.required = False


def _convert(action: argparse.Action, text: str) -> object:
    if action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction):  # a switch
        word = text.strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            is_on = word in TRUE_WORDS
            return is_on if action.const is not False else not is_on
        raise ValueError("expected 1/true/yes/on or 0/false/no/off")
    value: object = action.type(text) if callable(action.type) else text
    if action.choices is not None and value not in action.choices:
        raise ValueError(f"expected one of {', '.join(map(str, action.choices))}")
    return value


def _all_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)
