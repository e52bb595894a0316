import pytest

from barehttp.protocol.errors import BadRequest
from barehttp.web.forms import MultiDict, parse_urlencoded


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", []),
        (b"a=1", [("a", "1")]),
        (b"a=1&b=2", [("a", "1"), ("b", "2")]),
        (b"a=1&a=2", [("a", "1"), ("a", "2")]),
        (b"a=hello+world", [("a", "hello world")]),
        (b"a=%2B%26%3D", [("a", "+&=")]),
        (b"caf%C3%A9=%E2%9C%93", [("caf\u00e9", "\u2713")]),
        (b"flag", [("flag", "")]),
        (b"a=", [("a", "")]),
        (b"&&a=1&&", [("a", "1")]),
        (b"a=1;b=2", [("a", "1;b=2")]),
        (b"a=x=y", [("a", "x=y")]),
    ],
    ids=[
        "empty",
        "one-field",
        "two-fields",
        "repeated-name-kept-in-order",
        "plus-is-space",
        "percent-decoded",
        "utf8-decoded",
        "no-equals-is-empty-value",
        "empty-value",
        "empty-pairs-skipped",
        "semicolon-is-not-a-separator",
        "equals-in-value",
    ],
)
def test_parse_urlencoded(body: bytes, expected: list[tuple[str, str]]) -> None:
    assert parse_urlencoded(body).multi_items() == expected


@pytest.mark.parametrize(
    "body",
    [b"a=%", b"a=%2", b"a=%zz", b"%g0=1", b"a=%C3%28", b"a=\xff"],
    ids=[
        "percent-at-end",
        "percent-one-digit",
        "percent-not-hex",
        "malformed-in-name",
        "invalid-utf8-escaped",
        "invalid-utf8-raw",
    ],
)
def test_parse_urlencoded_rejects_malformed(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_urlencoded(body)


@pytest.mark.parametrize(
    ("body", "max_fields", "is_accepted"),
    [
        (b"a=1&b=2&c=3", 3, True),
        (b"a=1&b=2&c=3&d=4", 3, False),
        (b"&" * 10_000 + b"a=1", 1, True),
        (b"a&" * 1_000, None, True),
        (b"a&" * 1_001, None, False),
    ],
    ids=["at-limit", "over-limit", "empty-pairs-not-counted", "default-at", "default-over"],
)
def test_parse_urlencoded_field_limit(
    body: bytes, max_fields: int | None, is_accepted: bool
) -> None:
    options = {} if max_fields is None else {"max_fields": max_fields}
    if is_accepted:
        parse_urlencoded(body, **options)
    else:
        with pytest.raises(BadRequest, match="too many form fields"):
            parse_urlencoded(body, **options)


def test_multidict_gives_first_value_and_all_values() -> None:
    form = MultiDict([("role", "user"), ("role", "admin"), ("name", "ann")])
    assert form["role"] == "user"
    assert form.get("role") == "user"
    assert form.get_all("role") == ["user", "admin"]
    assert form.get_all("missing") == []
    assert list(form) == ["role", "name"]
    assert len(form) == 2
    assert "name" in form
    assert form.get("missing") is None
