"""Every Limits field is checked when built: nonsense raises ValueError naming the field."""

from __future__ import annotations

import dataclasses
import math

import pytest

from barehttp.cli import build_parser, limits_from_args
from barehttp.protocol.limits import Limits

NAMES = [f.name for f in dataclasses.fields(Limits)]
TIMEOUTS = [name for name in NAMES if name.endswith("_s") and not name.endswith("_per_s")]
COUNTS = [name for name in NAMES if name not in TIMEOUTS]
ZERO_ALLOWED = {"max_body_bytes", "fd_reserve_count"}


def test_defaults_are_valid() -> None:
    Limits()


def test_linger_zero_is_refused_not_wait_forever() -> None:
    with pytest.raises(ValueError, match="linger_s"):
        Limits(linger_s=0)


@pytest.mark.parametrize("name", [name for name in TIMEOUTS if name != "shutdown_timeout_s"])
def test_zero_timeouts_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=rf"Limits\.{name} "):
        Limits(**{name: 0})


def test_zero_shutdown_timeout_means_no_wait() -> None:
    assert Limits(shutdown_timeout_s=0).shutdown_timeout_s == 0


def test_cli_value_refused_by_limits_exits_with_a_message() -> None:
    args = build_parser().parse_args(["hello", "--idle-timeout", "0.0000001"])
    with pytest.raises(SystemExit, match=r"Limits\.idle_timeout_s"):
        limits_from_args(args)


@pytest.mark.parametrize("name", TIMEOUTS)
@pytest.mark.parametrize("value", [-1.0, 0.0000001, math.inf, math.nan, "5", True])
def test_timeouts_must_be_positive_finite_seconds(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"Limits\.{name} "):
        Limits(**{name: value})


@pytest.mark.parametrize("name", COUNTS)
@pytest.mark.parametrize("value", [-1, 1.5, "10", True])
def test_sizes_and_counts_must_be_whole_numbers(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"Limits\.{name} "):
        Limits(**{name: value})


@pytest.mark.parametrize(
    "name", [n for n in COUNTS if n not in ZERO_ALLOWED | {"min_body_rate_bytes_per_s"}]
)
def test_zero_is_refused_where_it_means_nothing(name: str) -> None:
    with pytest.raises(ValueError, match=rf"Limits\.{name} "):
        Limits(**{name: 0})


def test_zero_where_documented_and_no_per_ip_cap() -> None:
    Limits(max_body_bytes=0, min_body_rate_bytes_per_s=0, fd_reserve_count=0)
    assert Limits().max_connections_per_ip is None
    assert Limits(max_connections_per_ip=1).max_connections_per_ip == 1


def test_smallest_timeout_is_accepted() -> None:
    assert Limits(linger_s=0.001).linger_s == 0.001
