"""Database locations: tell a SQLite path from a PostgreSQL URL, and keep passwords out of text."""

from __future__ import annotations

import re
import urllib.parse

# libpq accepts both schemes (PostgreSQL docs §34.1.1.2, "Connection URIs").
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
HIDDEN = "***"

# key=value conninfo: password=secret or password='a quoted \' secret'.
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
# URL query parameter: ?password=secret&...
_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)


def is_postgres_location(location: str) -> bool:
    """True for a PostgreSQL URL or a key=value conninfo string; False for a file path."""
    lowered = location.strip().lower()
    if lowered.startswith(POSTGRES_SCHEMES):
        return True
    # A conninfo string names at least one keyword, e.g. "dbname=app host=/run/pg".
    return bool(re.match(r"^(host|hostaddr|dbname|user|port|service)\s*=", lowered))


def redact(location: str) -> str:
    """The location with any password replaced by ***; paths come back unchanged."""
    if not is_postgres_location(location):
        return location
    if not location.strip().lower().startswith(POSTGRES_SCHEMES):
        return _KEYWORD_PASSWORD.sub(lambda match: match.group(1) + HIDDEN, location)
    scheme, _, rest = location.partition("://")
    authority, slash, tail = _split_authority(rest)
    userinfo, at, hosts = authority.rpartition("@")
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":" + HIDDEN
    path, question, query = tail.partition("?")
    if question:
        query = _QUERY_PASSWORD.sub(lambda match: match.group(1) + HIDDEN, query)
    return f"{scheme}://{userinfo}{at}{hosts}{slash}{path}{question}{query}"


def scrub(text: str, location: str) -> str:
    """`text` (say, a driver's error message) with the location's password hidden."""
    for secret in _passwords(location):
        text = text.replace(secret, HIDDEN)
    return text.replace(location, redact(location))


def _split_authority(rest: str) -> tuple[str, str, str]:
    """'user:pw@host:5432/db?x=1' -> ('user:pw@host:5432', '/', 'db?x=1')."""
    cut = len(rest)
    for separator in ("/", "?"):
        index = rest.find(separator)
        if index != -1:
            cut = min(cut, index)
    authority, tail = rest[:cut], rest[cut:]
    if tail.startswith("/"):
        return authority, "/", tail[1:]
    return authority, "", tail


def _passwords(location: str) -> list[str]:
    """Every spelling of the password the location holds (raw and percent-decoded)."""
    found: list[str] = []
    if location.strip().lower().startswith(POSTGRES_SCHEMES):
        authority, _, tail = _split_authority(location.partition("://")[2])
        userinfo, at, _ = authority.rpartition("@")
        if at and ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
        query = tail.partition("?")[2]
        for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            if key.lower() == "password":
                found.append(value)
                found.append(urllib.parse.quote(value, safe=""))
    else:
        for match in _KEYWORD_PASSWORD.finditer(location):
            found.append(match.group(2))
            found.append(match.group(2).strip("'"))
    decoded = [urllib.parse.unquote(secret) for secret in found]
    # Longest first, so a password that contains another is replaced whole.
    return sorted({secret for secret in found + decoded if secret}, key=len, reverse=True)
