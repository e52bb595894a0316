"""The pure RFC 9110 parsers of conditional requests and ranges (protocol/conditional.py)."""

from __future__ import annotations

import pytest

from barehttp.protocol.conditional import ByteRange, matches_etag, parse_http_date, parse_range

MTIME = 1_700_000_000  # Tue, 14 Nov 2023 22:13:20 GMT
MTIME_TEXT = "Tue, 14 Nov 2023 22:13:20 GMT"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-99", [ByteRange(0, 99)]),
        ("bytes=100-", [ByteRange(100, None)]),
        ("bytes=-500", [ByteRange(None, 500)]),
        ("BYTES=0-0", [ByteRange(0, 0)]),
        ("bytes= 0-1 , ,5-", [ByteRange(0, 1), ByteRange(5, None)]),
        ("bytes=0-1,-2", [ByteRange(0, 1), ByteRange(None, 2)]),
        ("bytes=5-4", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
        ("bytes=1-2-3", None),
        ("bytes=", None),
        ("bytes 0-1", None),
        ("items=0-1", None),
        ("bytes=+1-2", None),
        ("bytes=0x1-2", None),
        ("bytes=" + "9" * 5000 + "-", None),
    ],
    ids=[
        "first-last",
        "first-open",
        "suffix",
        "unit-case-insensitive",
        "empty-elements",
        "two-ranges",
        "last-before-first",
        "bare-dash",
        "letters",
        "three-parts",
        "empty-set",
        "no-equals",
        "other-unit",
        "sign",
        "hex",
        "too-many-digits",
    ],
)
def test_parse_range(value: str, expected: list[ByteRange] | None) -> None:
    assert parse_range(value) == expected


@pytest.mark.parametrize(
    ("byte_range", "size", "expected"),
    [
        (ByteRange(0, 99), 1000, (0, 99)),
        (ByteRange(0, 5000), 1000, (0, 999)),
        (ByteRange(100, None), 1000, (100, 999)),
        (ByteRange(None, 500), 1000, (500, 999)),
        (ByteRange(None, 5000), 1000, (0, 999)),
        (ByteRange(999, 999), 1000, (999, 999)),
        (ByteRange(1000, None), 1000, None),
        (ByteRange(1000, 2000), 1000, None),
        (ByteRange(None, 0), 1000, None),
    ],
    ids=[
        "inside",
        "last-clamped",
        "open-ended",
        "suffix",
        "suffix-longer-than-file",
        "last-byte",
        "first-at-end",
        "past-end",
        "zero-suffix",
    ],
)
def test_byte_range_resolve(
    byte_range: ByteRange, size: int, expected: tuple[int, int] | None
) -> None:
    assert byte_range.resolve(size) == expected


@pytest.mark.parametrize(
    ("field", "weak", "matches"),
    [
        ('"abc"', True, True),
        ('"abc"', False, True),
        ('W/"abc"', True, True),
        ('W/"abc"', False, False),
        ('"x", "abc"', True, True),
        ('"x" ,W/"abc" ', True, True),
        ('"x", "y"', True, False),
        ("*", True, True),
        ("*", False, True),
        ('"a,bc"', True, False),
        ("abc", True, False),
        ('"abc" garbage', True, False),
        ("", True, False),
    ],
    ids=[
        "same",
        "same-strong",
        "weak-tag-weak-comparison",
        "weak-tag-strong-comparison",
        "list",
        "list-with-spaces",
        "list-without",
        "star",
        "star-strong",
        "comma-inside-tag",
        "unquoted",
        "trailing-garbage",
        "empty",
    ],
)
def test_matches_etag(field: str, weak: bool, matches: bool) -> None:
    assert matches_etag(field, '"abc"', weak=weak) is matches


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (MTIME_TEXT, MTIME),
        ("Tuesday, 14-Nov-23 22:13:20 GMT", MTIME),  # RFC 850, obsolete but accepted
        ("Tue Nov 14 22:13:20 2023", MTIME),  # asctime
        ("yesterday", None),
        ("", None),
    ],
    ids=["imf-fixdate", "rfc850", "asctime", "words", "empty"],
)
def test_parse_http_date(value: str, expected: int | None) -> None:
    assert parse_http_date(value) == expected
