"""``barehttp --help`` shows every option of every command; errors name their command."""

from __future__ import annotations

import argparse

import pytest

from barehttp.cli import DEFAULT_LIMITS, build_parser, main
from barehttp.cli_help import commands_of


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def every_command(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for command in commands_of(parser):
        found += [command, *every_command(command)]
    return found


def test_top_level_help_shows_every_option_of_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run_main(capsys, "--help")
    assert status == 0
    commands = every_command(build_parser())
    assert {command.prog for command in commands} >= {
        "barehttp serve",
        "barehttp app",
        "barehttp users set-limit",
    }
    for command in commands:
        assert f"usage: {command.prog} " in out
        for action in command._actions:
            for option in action.option_strings:
                assert option in out, f"{command.prog} {option} missing from barehttp --help"


def test_every_option_has_help_text() -> None:
    for command in every_command(build_parser()):
        for action in command._actions:
            if action.option_strings:
                assert action.help, f"{command.prog} {action.option_strings[0]} has no help"


@pytest.mark.parametrize(
    "default",
    [
        "default 1M, for wsgi none",  # DEFAULT_LIMITS.max_body_bytes, in the unit --max-body takes
        f"default {DEFAULT_LIMITS.max_connections})",
        f"default {DEFAULT_LIMITS.worker_queue_count})",
        f"default {DEFAULT_LIMITS.idle_timeout_s})",
        f"default {DEFAULT_LIMITS.header_timeout_s})",
        f"default {DEFAULT_LIMITS.body_timeout_s})",
        f"default {DEFAULT_LIMITS.shutdown_timeout_s})",
        "default INFO",
    ],
)
def test_command_help_shows_the_limits_defaults(
    capsys: pytest.CaptureFixture[str], default: str
) -> None:
    status, out, _ = run_main(capsys, "serve", "--help")
    assert status == 0
    assert default in " ".join(out.split())  # help lines wrap at the terminal width


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (("serve", "--bogus"), "barehttp serve"),
        (("app", "--port", "0", "--nope=1"), "barehttp app"),
        (("users", "list", "--bogus"), "barehttp users list"),
    ],
)
def test_unknown_option_names_its_command(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], command: str
) -> None:
    status, _, err = run_main(capsys, *argv)
    assert status == 2
    assert err.startswith(f"usage: {command} ")
    assert f"{command}: error: unrecognized arguments: {argv[-1]}" in err


@pytest.mark.parametrize("option", ["--threads", "--queue"])
def test_asgi_refuses_thread_pool_options_it_has_no_use_for(
    capsys: pytest.CaptureFixture[str], option: str
) -> None:
    # One event loop serves every connection: a pool size would be silently ignored.
    status, _, err = run_main(capsys, "asgi", "main:app", option, "8")
    assert status == 2
    assert "barehttp asgi: error: unrecognized arguments: " + option in err
    assert option in run_main(capsys, "wsgi", "--help")[1]  # still there for the threads
