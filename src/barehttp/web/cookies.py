"""Cookie header parsing and Set-Cookie formatting (RFC 6265)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from barehttp.protocol import grammar
from barehttp.protocol.writer import format_http_date

SameSite = Literal["Strict", "Lax", "None"]

# RFC 9110 §5.6.2: cookie-name is a token (RFC 6265 §4.1.1).
_TOKEN = re.compile(grammar.token)
# RFC 6265 §4.1.1 cookie-octet: visible ASCII minus DQUOTE, comma, semicolon and
# backslash, optionally wrapped in DQUOTEs. Rejecting everything else makes header
# injection (CR/LF) and attribute smuggling (";") impossible.
_COOKIE_VALUE = re.compile(
    r'[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*|"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"'
)
# RFC 6265 §4.1.1 av-octet for Path and Domain: any CHAR except CTLs or ";".
_ATTRIBUTE_VALUE = re.compile(r"[\x20-\x3a\x3c-\x7e]+")


class InvalidCookie(ValueError):
    """A cookie the server tried to set would not be a well-formed Set-Cookie field."""


def parse_cookie_header(header: str) -> dict[str, str]:
    """Cookie pairs from a ``Cookie`` field value; never raises.

    Follows the lenient algorithm of RFC 6265 §5.2 rather than the strict §4.2.1
    grammar, since browsers send whatever other sites set: pairs without ``=``
    or with an empty name are skipped. When a name repeats, the first wins,
    because user agents list cookies with longer (more specific) paths first (§5.4).
    """
    cookies: dict[str, str] = {}
    for pair in header.split(";"):
        name, equals, value = pair.partition("=")
        name = name.strip(" \t")
        if not equals or not name or name in cookies:
            continue
        value = value.strip(" \t")
        if len(value) >= 2 and value[0] == value[-1] == '"':  # §4.1.1: DQUOTE-wrapped
            value = value[1:-1]
        cookies[name] = value
    return cookies


def format_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: datetime | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    httponly: bool = False,
    samesite: SameSite | None = "Lax",
) -> str:
    """A ``Set-Cookie`` field value (RFC 6265 §4.1).

    Raises:
        InvalidCookie: if any part could break out of its place in the header.
    """
    if not _TOKEN.fullmatch(name):
        raise InvalidCookie(f"cookie name is not a token: {name!r}")
    if not _COOKIE_VALUE.fullmatch(value):
        raise InvalidCookie(f"cookie value has characters outside cookie-octet: {value!r}")
    parts = [f"{name}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        if expires.tzinfo is None:
            raise InvalidCookie("expires must be timezone-aware")
        # §5.1.1 expects an rfc1123-date in GMT. Whole seconds first: as a float,
        # x.999999 s can round up to the next second far from 1970.
        timestamp = expires.replace(microsecond=0).timestamp()
        parts.append(f"Expires={format_http_date(timestamp)}")
    for attribute, attribute_value in (("Domain", domain), ("Path", path)):
        if attribute_value is None:
            continue
        if not _ATTRIBUTE_VALUE.fullmatch(attribute_value):
            raise InvalidCookie(f"cookie {attribute} has forbidden characters")
        parts.append(f"{attribute}={attribute_value}")
    if secure:
        parts.append("Secure")
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        if samesite not in ("Strict", "Lax", "None"):
            raise InvalidCookie(f"SameSite must be Strict, Lax or None: {samesite!r}")
        if samesite == "None" and not secure:
            raise InvalidCookie("SameSite=None requires Secure; browsers drop it otherwise")
        parts.append(f"SameSite={samesite}")
    return "; ".join(parts)
