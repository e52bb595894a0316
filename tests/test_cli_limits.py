"""The CLI's limit options come from one table, and each sets the Limits field it names."""

from __future__ import annotations

import dataclasses

import pytest

from barehttp.cli import build_parser, limits_from_args
from barehttp.cli_limits import DEFAULT_LIMITS, LIMIT_OPTIONS, LimitOption

LIMITS_FIELDS = {field.name for field in dataclasses.fields(DEFAULT_LIMITS)}
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
}


def test_each_row_names_a_limits_field_once() -> None:
    fields = [option.field for option in LIMIT_OPTIONS]
    assert set(fields) <= LIMITS_FIELDS
    assert len(fields) == len(set(fields))
    assert set(fields) == set(GIVEN)


@pytest.mark.parametrize("option", LIMIT_OPTIONS, ids=lambda option: option.flags[0])
def test_every_flag_sets_its_field(option: LimitOption) -> None:
    text, expected = GIVEN[option.field]
    for flag in option.flags:  # aliases too
        args = build_parser().parse_args(["hello", flag, text])
        limits = limits_from_args(args)
        assert getattr(limits, option.field) == expected
        others = {name for name in GIVEN if name != option.field}
        assert all(getattr(limits, name) == getattr(DEFAULT_LIMITS, name) for name in others)


def test_no_option_keeps_every_default() -> None:
    assert limits_from_args(build_parser().parse_args(["hello"])) == DEFAULT_LIMITS
