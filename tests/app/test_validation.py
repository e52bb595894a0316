"""Sign-up rules: each broken rule gives its own message under its own field."""

from __future__ import annotations

import pytest

from barehttp.app.validation import (
    EMAIL,
    PASSWORD,
    USERNAME,
    validate_email,
    validate_password,
    validate_sign_up,
    validate_username,
)


@pytest.mark.parametrize(
    "username",
    ["abc", "a" * 32, "Alice_99", "j.doe", "x-y", "___", "A.B-c_9"],
    ids=["min-length", "max-length", "mixed", "dot", "dash", "underscores", "all-kinds"],
)
def test_accepts_username(username: str) -> None:
    assert validate_username(username) == []


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("", ["required"]),
        ("ab", ["3 to 32"]),
        ("a" * 33, ["3 to 32"]),
        ("bob smith", ["only letters"]),
        ("bob@home", ["only letters"]),
        ("josé", ["only letters"]),
        ("ab!", ["only letters"]),
        ("a!", ["3 to 32", "only letters"]),
    ],
    ids=[
        "empty",
        "too-short",
        "too-long",
        "space",
        "at-sign",
        "non-ascii-letter",
        "symbol",
        "short-and-symbol",
    ],
)
def test_rejects_username(username: str, expected: list[str]) -> None:
    messages = validate_username(username)
    assert len(messages) == len(expected)
    for message, fragment in zip(messages, expected, strict=True):
        assert fragment in message


@pytest.mark.parametrize(
    "email",
    ["a@example.com", "first.last+tag@mail.example.org", "x@b.c", "a" * 242 + "@example.com"],
    ids=["plain", "plus-tag", "short", "exactly-254"],
)
def test_accepts_email(email: str) -> None:
    assert validate_email(email) == []


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("", ["required"]),
        ("a" * 243 + "@example.com", ["at most 254"]),
        ("a b@example.com", ["spaces"]),
        ("ab@example.com\t", ["spaces"]),
        ("example.com", ["exactly one '@'"]),
        ("a@b@example.com", ["exactly one '@'"]),
        ("a@localhost", ["domain with a dot"]),
        ("a@.com", ["domain with a dot"]),
        ("a@example.", ["domain with a dot"]),
        ("a@example..com", ["domain with a dot"]),
        ("@example.com", ["name before"]),
    ],
    ids=[
        "empty",
        "255-chars",
        "space",
        "tab",
        "no-at",
        "two-ats",
        "no-dot-in-domain",
        "domain-starts-with-dot",
        "domain-ends-with-dot",
        "empty-label",
        "empty-local-part",
    ],
)
def test_rejects_email(email: str, expected: list[str]) -> None:
    messages = validate_email(email)
    assert len(messages) == len(expected)
    for message, fragment in zip(messages, expected, strict=True):
        assert fragment in message


@pytest.mark.parametrize(
    "password",
    ["abcdef1!", "x" * 126 + "1!", "pässwörd1€", "correct horse 1 battery!"],
    ids=["min-length", "max-length", "unicode", "passphrase"],
)
def test_accepts_password(password: str) -> None:
    assert validate_password(password) == []


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("", ["required"]),
        ("abcde1!", ["8 to 128"]),
        ("x" * 127 + "1!", ["8 to 128"]),
        ("12345678!", ["letter"]),
        ("abcdefgh!", ["digit"]),
        ("abcdefg1", ["symbol"]),
        ("abcd efg1", ["symbol"]),
        ("!!!!!!!!", ["letter", "digit"]),
        ("abc", ["8 to 128", "digit", "symbol"]),
    ],
    ids=[
        "empty",
        "too-short",
        "too-long",
        "no-letter",
        "no-digit",
        "no-symbol",
        "space-is-not-a-symbol",
        "symbols-only",
        "short-letters-only",
    ],
)
def test_rejects_password(password: str, expected: list[str]) -> None:
    messages = validate_password(password)
    assert len(messages) == len(expected)
    for message, fragment in zip(messages, expected, strict=True):
        assert fragment in message


def test_sign_up_result_valid() -> None:
    result = validate_sign_up("alice", "alice@example.com", "s3cret!pw")
    assert result.is_valid
    assert result.messages(USERNAME) == ()


def test_sign_up_result_keys_messages_by_field() -> None:
    result = validate_sign_up("a", "alice@example.com", "short")
    assert not result.is_valid
    assert set(result.errors) == {USERNAME, PASSWORD}
    assert result.messages(EMAIL) == ()
    assert any("3 to 32" in message for message in result.messages(USERNAME))
    assert len(result.messages(PASSWORD)) == 3  # length, digit, symbol
