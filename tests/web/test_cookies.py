from datetime import UTC, datetime, timedelta, timezone

import pytest

from barehttp.web.cookies import InvalidCookie, format_set_cookie, parse_cookie_header


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1", {"a": "1"}),
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1;b=2", {"a": "1", "b": "2"}),
        ("  a = 1 ;  b=2  ", {"a": "1", "b": "2"}),
        ('a="quoted"', {"a": "quoted"}),
        ('a="', {"a": '"'}),
        ("a=", {"a": ""}),
        ("a=x=y", {"a": "x=y"}),
        ("a=1; a=2", {"a": "1"}),
        ("junk; a=1", {"a": "1"}),
        ("=novalue; a=1", {"a": "1"}),
        (";;;", {}),
        ("", {}),
        ("a=\u00e9\x00\x7f", {"a": "\u00e9\x00\x7f"}),
    ],
    ids=[
        "single",
        "two",
        "no-space",
        "whitespace-trimmed",
        "dquotes-stripped",
        "lone-dquote-kept",
        "empty-value",
        "equals-in-value",
        "first-duplicate-wins",
        "pair-without-equals-skipped",
        "empty-name-skipped",
        "only-separators",
        "empty-header",
        "junk-bytes-tolerated",
    ],
)
def test_parse_cookie_header(header: str, expected: dict[str, str]) -> None:
    assert parse_cookie_header(header) == expected


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, "sid=abc; Path=/; SameSite=Lax"),
        ({"path": None, "samesite": None}, "sid=abc"),
        ({"max_age": 3600}, "sid=abc; Max-Age=3600; Path=/; SameSite=Lax"),
        (
            {"expires": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)},
            "sid=abc; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/; SameSite=Lax",
        ),
        (
            {"expires": datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))},
            "sid=abc; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/; SameSite=Lax",
        ),
        (
            {"domain": "example.com", "path": "/app"},
            "sid=abc; Domain=example.com; Path=/app; SameSite=Lax",
        ),
        (
            {"secure": True, "httponly": True, "samesite": "Strict"},
            "sid=abc; Path=/; Secure; HttpOnly; SameSite=Strict",
        ),
        ({"secure": True, "samesite": "None"}, "sid=abc; Path=/; Secure; SameSite=None"),
    ],
    ids=[
        "defaults",
        "bare",
        "max-age",
        "expires-gmt",
        "expires-converted-to-gmt",
        "domain-and-path",
        "flags",
        "samesite-none-with-secure",
    ],
)
def test_format_set_cookie(options: dict[str, object], expected: str) -> None:
    assert format_set_cookie("sid", "abc", **options) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value", "options"),
    [
        ("sid", "a\r\nSet-Cookie: admin=1", {}),
        ("sid", "a\nb", {}),
        ("sid", "a; Domain=evil.example", {}),
        ("sid", "a;Domain=evil.example", {}),
        ("sid", "a b", {}),
        ("sid", "a,b", {}),
        ("sid", 'a"b', {}),
        ("sid", "a\\b", {}),
        ("sid", "a\x00", {}),
        ("sid", "caf\u00e9", {}),
        ("s;id", "a", {}),
        ("s=id", "a", {}),
        ("sid\r\n", "a", {}),
        ("", "a", {}),
        ("sid", "a", {"path": "/\r\nX-Evil: 1"}),
        ("sid", "a", {"path": "/; Domain=evil.example"}),
        ("sid", "a", {"domain": "a.example; Secure"}),
        ("sid", "a", {"samesite": "Bogus"}),
        ("sid", "a", {"samesite": "None"}),
        ("sid", "a", {"expires": datetime(2030, 1, 1)}),
    ],
    ids=[
        "value-crlf-injection",
        "value-lf",
        "value-semicolon-attribute-smuggling",
        "value-semicolon-without-space",
        "value-space",
        "value-comma",
        "value-dquote",
        "value-backslash",
        "value-nul",
        "value-non-ascii",
        "name-semicolon",
        "name-equals",
        "name-crlf",
        "name-empty",
        "path-crlf-injection",
        "path-semicolon",
        "domain-semicolon",
        "samesite-unknown",
        "samesite-none-without-secure",
        "expires-naive-datetime",
    ],
)
def test_format_set_cookie_rejects(name: str, value: str, options: dict[str, object]) -> None:
    with pytest.raises(InvalidCookie):
        format_set_cookie(name, value, **options)  # type: ignore[arg-type]


def test_formatted_cookie_round_trips_through_parser() -> None:
    value = "token-AZaz09_.~!#$%&'()*+-/:<=>?@[]^`{|}"
    field = format_set_cookie("sid", value)
    assert parse_cookie_header(field.split("; ")[0]) == {"sid": value}
