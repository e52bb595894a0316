"""Field line syntax shared by the header and trailer sections (RFC 9112 §5)."""

from __future__ import annotations

from barehttp.protocol import grammar
from barehttp.protocol.errors import BadRequest

_is_token = grammar.TOKEN.fullmatch
_find_invalid_value_char = grammar.INVALID_FIELD_VALUE_CHAR.search


def parse_field_line(line: bytes) -> tuple[str, str]:
    """Split one field line into a lower-cased name and its value."""
    if line[:1] in (b" ", b"\t"):  # RFC 9112 §5.2: obs-fold is refused with 400
        raise BadRequest("obsolete line folding in header section")
    name, colon, value = line.partition(b":")
    # RFC 9112 §5.1: no whitespace between field name and colon; the name is a token.
    if not colon or _is_token(name) is None:
        raise BadRequest("malformed header field line")
    value = value.strip(b" \t")  # RFC 9112 §5.1: OWS around the value is not part of it
    if _find_invalid_value_char(value) is not None:  # RFC 9110 §5.5: CR, LF, NUL
        raise BadRequest("invalid character in header field value")
    return name.decode("ascii").lower(), value.decode("latin-1")
