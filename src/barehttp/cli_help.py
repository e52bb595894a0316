"""Help for the ``barehttp`` command: every command's options in one page, and errors
that name the command they are about."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from typing import Any

COMMAND_PARSER = "command_parser"  # the namespace attribute naming the command's own parser


class FullHelpAction(argparse.Action):
    """``barehttp --help``: the overview, then each command's (and sub-command's) help."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.pop("nargs", None)
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(full_help(parser))
        parser.exit()


def full_help(parser: argparse.ArgumentParser) -> str:
    """``parser``'s help followed by that of every command below it, depth first."""
    sections = [parser.format_help()]
    sections += [full_help(command) for command in commands_of(parser)]
    return "\n".join(sections)


def commands_of(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parsers of ``parser``'s commands, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            seen: set[int] = set()
            for command in action.choices.values():
                if id(command) not in seen:  # an alias names the same parser again
                    seen.add(id(command))
                    yield command


def name_command_parsers(parser: argparse.ArgumentParser) -> None:
    """Record in each leaf command's defaults its own parser, for `parse_naming_command`."""
    for command in commands_of(parser):
        command.set_defaults(**{COMMAND_PARSER: command})
        name_command_parsers(command)


def parse_naming_command(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """``parser.parse_args``, but an unknown option is reported by its command's parser.

    argparse lets the top-level parser report what a command's parser did not
    recognise ("barehttp: error: ..."); this names the command and shows its usage
    ("usage: barehttp serve ..." and "barehttp serve: error: ...").
    """
    args, extras = parser.parse_known_args(argv)
    if extras:
        owner: argparse.ArgumentParser = getattr(args, COMMAND_PARSER, parser)
        owner.error("unrecognized arguments: " + " ".join(extras))
    return args
