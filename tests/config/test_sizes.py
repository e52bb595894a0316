"""Sizes with units: binary multiples, as nginx reads them."""

from __future__ import annotations

import pytest

from barehttp.config.sizes import parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1048576", 1_048_576),
        ("512K", 512 * 1024),
        ("512k", 512 * 1024),
        ("20M", 20 * 1024 * 1024),
        ("20MB", 20 * 1024 * 1024),
        ("20MiB", 20 * 1024 * 1024),
        ("1G", 1024**3),
        ("2T", 2 * 1024**4),
        (" 3 M ", 3 * 1024 * 1024),
    ],
)
def test_parses_sizes_with_units(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "M", "-1", "1.5M", "20X", "20 MBs", "0x10"])
def test_refuses_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)
