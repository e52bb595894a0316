"""BAREHTTP_<OPTION> variables: defaults for every option of every command; flags win."""

from __future__ import annotations

import argparse

import pytest

from barehttp.cli import build_parser
from barehttp.config.environment import apply_environment, variable_name


def parse(argv: list[str], environ: dict[str, str]) -> argparse.Namespace:
    parser = build_parser()
    apply_environment(parser, environ)
    return parser.parse_args(argv)


def test_variables_set_defaults() -> None:
    args = parse(
        ["wsgi", "app:app"],
        {
            "BAREHTTP_PORT": "9000",
            "BAREHTTP_WORKERS": "4",
            "BAREHTTP_MAX_BODY": "20M",
            "BAREHTTP_SHUTDOWN_TIMEOUT": "2.5",
            "BAREHTTP_FORWARDED_ALLOW_IPS": "*",
            "BAREHTTP_ACCESS_LOG": "off",
            "BAREHTTP_LOG_LEVEL": "DEBUG",
        },
    )
    assert (args.port, args.workers, args.max_body) == (9000, 4, 20 * 1024 * 1024)
    assert (args.shutdown_timeout, args.forwarded_allow_ips) == (2.5, "*")
    assert (args.access_log, args.log_level) == (False, "DEBUG")


def test_command_line_wins() -> None:
    args = parse(["hello", "--port", "8001", "--access-log"], {
        "BAREHTTP_PORT": "9000",
        "BAREHTTP_ACCESS_LOG": "0",
    })  # fmt: skip
    assert (args.port, args.access_log) == (8001, True)


def test_every_command_reads_them() -> None:
    environ = {"BAREHTTP_DB": "/srv/accounts.db", "BAREHTTP_HOST": "0.0.0.0"}
    assert parse(["app"], environ).db == "/srv/accounts.db"
    assert parse(["users", "list"], environ).db == "/srv/accounts.db"
    assert parse(["serve"], environ).host == "0.0.0.0"


def test_switches_take_words() -> None:
    assert parse(["serve"], {"BAREHTTP_LISTING": "no"}).listing is False
    assert parse(["serve"], {"BAREHTTP_DOTFILES": "yes"}).dotfiles is True


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BAREHTTP_PORT", "70000", "BAREHTTP_PORT='70000': must be from 0 to 65535"),
        ("BAREHTTP_MAX_BODY", "lots", "BAREHTTP_MAX_BODY='lots': not a size"),
        ("BAREHTTP_ACCESS_LOG", "maybe", "expected 1/true/yes/on or 0/false/no/off"),
        ("BAREHTTP_LOG_LEVEL", "LOUD", "expected one of DEBUG"),
    ],
)
def test_bad_value_names_the_variable(
    variable: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(["hello"], {variable: value})
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_names_follow_the_first_long_option() -> None:
    actions = argparse.ArgumentParser(add_help=True)
    switch = actions.add_argument("--access-log", "--log", action=argparse.BooleanOptionalAction)
    timeout = actions.add_argument("--idle-timeout", "--timeout-idle")
    assert variable_name(switch) == "BAREHTTP_ACCESS_LOG"
    assert variable_name(timeout) == "BAREHTTP_IDLE_TIMEOUT"
    assert variable_name(actions._actions[0]) is None  # --help
    assert variable_name(actions.add_argument("directory")) is None  # positionals: no


def test_every_help_mentions_the_variables(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["wsgi", "--help"], ["app", "--help"], ["--help"]):
        with pytest.raises(SystemExit):
            parse(command, {})
        assert "BAREHTTP_<OPTION>" in capsys.readouterr().out
