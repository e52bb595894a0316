"""The CLI's limit options come from one table, and each sets the Limits field it names."""

from __future__ import annotations

import dataclasses

import pytest

from barehttp.cli import build_parser, limits_from_args
from barehttp.cli_limits import (
    DEFAULT_LIMITS,
    DEFAULT_WEBSOCKET_LIMITS,
    LIMIT_OPTIONS,
    LimitOption,
    websocket_limits_from_args,
)

LIMITS_FIELDS = {field.name for field in dataclasses.fields(DEFAULT_LIMITS)}
WEBSOCKET_FIELDS = {field.name for field in dataclasses.fields(DEFAULT_WEBSOCKET_LIMITS)}
# A value each option accepts that differs from its default, and the field value it gives.
GIVEN = {
    "worker_threads": ("3", 3),
    "max_body_bytes": ("2K", 2_048),
    "max_connections": ("7", 7),
    "max_connections_per_ip": ("5", 5),
    "worker_queue_count": ("9", 9),
    "idle_timeout_s": ("1.5", 1.5),
    "header_timeout_s": ("2.5", 2.5),
    "body_timeout_s": ("3.5", 3.5),
    "write_timeout_s": ("4.5", 4.5),
    "min_body_rate_bytes_per_s": ("11", 11),
    "shutdown_timeout_s": ("0", 0.0),
    # WebSocketLimits (the websocket section, on the asgi command)
    "max_message_bytes": ("64K", 65_536),
    "max_frame_bytes": ("2M", 2_097_152),
    "ping_interval_s": ("0.25", 0.25),
    "ping_timeout_s": ("0.75", 0.75),
    "close_timeout_s": ("1.5", 1.5),
    "max_queued_messages": ("4", 4),
}


def test_each_row_names_a_limits_field_once() -> None:
    fields = [option.field for option in LIMIT_OPTIONS if not option.is_websocket]
    websocket_fields = [option.field for option in LIMIT_OPTIONS if option.is_websocket]
    assert set(fields) <= LIMITS_FIELDS
    assert set(websocket_fields) <= WEBSOCKET_FIELDS
    assert len(fields) == len(set(fields))
    assert len(websocket_fields) == len(set(websocket_fields))
    assert set(fields) | set(websocket_fields) == set(GIVEN)


@pytest.mark.parametrize("option", LIMIT_OPTIONS, ids=lambda option: option.flags[0])
def test_every_flag_sets_its_field(option: LimitOption) -> None:
    text, expected = GIVEN[option.field]
    for flag in option.flags:  # aliases too
        command = ["asgi", "main:app"] if option.is_websocket else ["hello"]
        args = build_parser().parse_args([*command, flag, text])
        limits = websocket_limits_from_args(args) if option.is_websocket else limits_from_args(args)
        defaults = DEFAULT_WEBSOCKET_LIMITS if option.is_websocket else DEFAULT_LIMITS
        assert getattr(limits, option.field) == expected
        others = {name for name in GIVEN if name != option.field and hasattr(defaults, name)}
        assert all(getattr(limits, name) == getattr(defaults, name) for name in others)


def test_no_option_keeps_every_default() -> None:
    assert limits_from_args(build_parser().parse_args(["hello"])) == DEFAULT_LIMITS


def test_commands_without_websocket_options_get_the_websocket_defaults() -> None:
    args = build_parser().parse_args(["hello"])
    assert websocket_limits_from_args(args) == DEFAULT_WEBSOCKET_LIMITS


def test_a_websocket_value_the_limits_refuse_is_one_line_naming_the_option() -> None:
    args = build_parser().parse_args(["asgi", "main:app", "--ws-max-frame", "100"])
    with pytest.raises(SystemExit) as exit_info:
        websocket_limits_from_args(args)
    message = str(exit_info.value.code)
    assert message.startswith("barehttp: --ws-max-frame: max_frame_bytes must be at least 125")
    assert "\n" not in message


def test_websocket_options_show_their_defaults_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["asgi", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "WebSocket limits:" in shown
    assert "(close 1009 beyond; default 1M)" in shown
    assert f"peer (default {DEFAULT_WEBSOCKET_LIMITS.ping_interval_s})" in shown
    assert f"after a Ping (default {DEFAULT_WEBSOCKET_LIMITS.ping_timeout_s})" in shown
