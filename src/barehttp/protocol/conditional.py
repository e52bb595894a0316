"""Pure RFC 9110 parsers for conditional requests and ranges: no I/O.

Entity tags and If-Match / If-None-Match lists (§8.8.3, §13.1.1-2), HTTP dates
(§5.6.7), Range (§14.2) and If-Range (§13.1.5). ``web.file_response`` applies them
to files in the order of §13.2.2.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import UTC

# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, one member of a list.
_ENTITY_TAG_MEMBER = re.compile(r'[ \t]*(?:(W/)?("[\x21\x23-\x7e\x80-\xff]*"))?[ \t]*(,|\Z)')
# RFC 9110 §5.6.7: IMF-fixdate, and the obsolete rfc850-date and asctime-date.
_HTTP_DATE = re.compile(
    r"[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
    r"|[A-Z][a-z]{5,8}, [0-9]{2}-[A-Z][a-z]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT"
    r"|[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}"
)
# RFC 9110 §14.1.1: int-range = first-pos "-" [ last-pos ]; suffix-range = "-" suffix-length.
_RANGE_SPEC = re.compile(r"[ \t]*([0-9]*)-([0-9]*)[ \t]*")


@dataclass(frozen=True, slots=True)
class EntityTag:
    opaque_tag: str  # with its double quotes
    is_weak: bool


def parse_entity_tags(value: str) -> list[EntityTag] | None:
    """The members of an If-Match / If-None-Match list; None if it is malformed."""
    tags: list[EntityTag] = []
    position = 0
    while position < len(value):
        member = _ENTITY_TAG_MEMBER.match(value, position)
        if member is None:
            return None
        if member.group(2):
            tags.append(EntityTag(member.group(2), is_weak=bool(member.group(1))))
        position = member.end()
        if not member.group(3):  # end of the field value
            break
    return tags


def matches_etag(field_value: str, etag: str, *, weak: bool) -> bool:
    """Whether an If-Match (``weak=False``) or If-None-Match (``weak=True``) field matches.

    RFC 9110 §13.1.1 uses the strong comparison, §13.1.2 the weak one (§8.8.3.2);
    "*" matches any current representation. A malformed list matches nothing.
    """
    if field_value.strip(" \t") == "*":
        return True
    ours = EntityTag(etag.removeprefix("W/"), is_weak=etag.startswith("W/"))
    for tag in parse_entity_tags(field_value) or []:
        if tag.opaque_tag == ours.opaque_tag and (weak or not (tag.is_weak or ours.is_weak)):
            return True
    return False


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch for an HTTP-date (RFC 9110 §5.6.7), or None if invalid."""
    value = value.strip(" \t")
    if _HTTP_DATE.fullmatch(value) is None:  # parsedate alone accepts far too much
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # asctime and "-0000" carry no zone: they mean GMT
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


@dataclass(frozen=True, slots=True)
class ByteRange:
    """One range-spec: ``first-last``, ``first-`` (``last`` None) or ``-last`` (``first`` None)."""

    first: int | None
    last: int | None

    def resolve(self, size: int) -> tuple[int, int] | None:
        """Inclusive (start, end) offsets within ``size`` bytes; None if unsatisfiable."""
        if self.first is None:  # suffix-range: the last `last` bytes (§14.1.1)
            assert self.last is not None
            if self.last == 0:
                return None
            return max(0, size - self.last), size - 1
        if self.first >= size:
            return None
        end = size - 1 if self.last is None else min(self.last, size - 1)
        return self.first, end


def parse_range(value: str) -> list[ByteRange] | None:
    """The byte ranges of a Range field (RFC 9110 §14.2); None to ignore the field.

    Another unit, a malformed spec or ``last < first`` make the field invalid,
    and §14.2 says an invalid Range is ignored, not refused.
    """
    unit, equals, range_set = value.partition("=")
    if not equals or unit.lower() != "bytes":  # §14.1: range units are case-insensitive
        return None
    ranges: list[ByteRange] = []
    for element in range_set.split(","):
        if not element.strip(" \t"):
            continue  # §5.6.1: empty list elements are allowed and ignored
        spec = _RANGE_SPEC.fullmatch(element)
        if spec is None or not (spec.group(1) or spec.group(2)):
            return None
        try:
            first = int(spec.group(1)) if spec.group(1) else None
            last = int(spec.group(2)) if spec.group(2) else None
        except ValueError:  # more digits than int() accepts
            return None
        if first is not None and last is not None and last < first:
            return None
        ranges.append(ByteRange(first, last))
    return ranges or None


def is_if_range_current(value: str, etag: str, modified: int) -> bool:
    """RFC 9110 §13.1.5: a strong ETag match, or exactly the Last-Modified date."""
    value = value.strip(" \t")
    if value.startswith(('"', "W/")):
        return not value.startswith("W/") and value == etag and not etag.startswith("W/")
    return parse_http_date(value) == modified
