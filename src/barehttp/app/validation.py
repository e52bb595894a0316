"""Sign-up form rules: one human message per broken rule, keyed by field."""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass

USERNAME = "username"
EMAIL = "email"
PASSWORD = "password"

USERNAME_MIN_CHARS = 3
USERNAME_MAX_CHARS = 32
# RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle brackets.
EMAIL_MAX_CHARS = 254
PASSWORD_MIN_CHARS = 8  # NIST SP 800-63B §5.1.1.2 minimum
PASSWORD_MAX_CHARS = 128  # long passphrases welcome; bounds the hashing input

# ASCII only: no look-alike letters from other scripts, and case-insensitive uniqueness
# then needs nothing beyond ASCII case folding (SQLite's NOCASE).
_USERNAME_CHARS = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Messages per field; a field that passed every rule is absent."""

    errors: Mapping[str, tuple[str, ...]]

    @property
    def is_valid(self) -> bool:
        """True when no rule was broken."""
        return not self.errors

    def messages(self, field: str) -> tuple[str, ...]:
        """The messages for `field`, empty if it is fine."""
        return self.errors.get(field, ())


def validate_username(username: str) -> list[str]:
    """Messages for each username rule broken."""
    if not username:
        return ["Username is required."]
    messages = []
    if not USERNAME_MIN_CHARS <= len(username) <= USERNAME_MAX_CHARS:
        messages.append(
            f"Username must be {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters long."
        )
    if not _USERNAME_CHARS.fullmatch(username):
        messages.append("Username may contain only letters, digits, '_', '.' and '-'.")
    return messages


def validate_email(email: str) -> list[str]:
    """Messages for each email rule broken. Plausible is all we check; mail proves the rest."""
    if not email:
        return ["Email is required."]
    messages = []
    if len(email) > EMAIL_MAX_CHARS:
        messages.append(f"Email must be at most {EMAIL_MAX_CHARS} characters long.")
    if any(character.isspace() for character in email):
        messages.append("Email must not contain spaces.")
    if email.count("@") != 1:
        messages.append("Email must contain exactly one '@'.")
    else:
        local, _, domain = email.partition("@")
        if not local:
            messages.append("Email needs a name before the '@'.")
        if "." not in domain or "" in domain.split("."):
            messages.append("Email needs a domain with a dot after the '@', like example.com.")
    return messages


def validate_password(password: str) -> list[str]:
    """Messages for each password rule broken."""
    if not password:
        return ["Password is required."]
    messages = []
    if not PASSWORD_MIN_CHARS <= len(password) <= PASSWORD_MAX_CHARS:
        messages.append(
            f"Password must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters long."
        )
    if not any(character.isalpha() for character in password):
        messages.append("Password needs at least one letter.")
    if not any(character.isdigit() for character in password):
        messages.append("Password needs at least one digit.")
    if not any(_is_symbol(character) for character in password):
        messages.append("Password needs at least one symbol, such as ! or #.")
    return messages


def validate_sign_up(username: str, email: str, password: str) -> ValidationResult:
    """Check all three sign-up fields at once, so the form shows every problem together."""
    found = {
        USERNAME: validate_username(username),
        EMAIL: validate_email(email),
        PASSWORD: validate_password(password),
    }
    return ValidationResult(
        types.MappingProxyType(
            {field: tuple(messages) for field, messages in found.items() if messages}
        )
    )


def _is_symbol(character: str) -> bool:
    """Neither letter, digit nor whitespace: a space alone does not count as a symbol."""
    return not (character.isalnum() or character.isspace())
