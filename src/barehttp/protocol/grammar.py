"""The RFC 9110/9112 grammar, composed once from named pieces.

Each ABNF rule is written out once, as text (``str``), and larger rules are built
from the smaller ones, as h11's ``_abnf`` does. The parser matches bytes, so the
patterns it uses are compiled from the same text encoded as ASCII; the writer,
cookies and other text-level checks compile the ``str`` pieces.
"""

from __future__ import annotations

import re

# RFC 9110 §5.6.2: token = 1*tchar
#   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
tchar = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
token = tchar + "+"

# RFC 9110 §5.6.3: OWS = *( SP / HTAB ); BWS = OWS (whitespace a sender should not
# produce but a recipient must accept).
OWS = r"[ \t]*"
BWS = OWS

# RFC 9110 §5.1: field-name = token
field_name = token

# RFC 9110 §5.5: field-value = *field-content, built from VCHAR, obs-text, SP and
# HTAB; obs-text = %x80-FF. The value pattern below is the complement of the bytes
# that make a field invalid (NUL, CR, LF, other controls, DEL): "a recipient of CR,
# LF, or NUL within a field value MUST either reject the message" (§5.5). The OWS
# around a value is matched by it and stripped by whoever reads the value.
obs_text = r"\x80-\xff"
field_value_forbidden = r"\x00-\x08\x0a-\x1f\x7f"
field_value = r"[^" + field_value_forbidden + r"]*"

# RFC 9112 §5: field-line = field-name ":" OWS field-value OWS
field_line = field_name + ":" + field_value

# RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
#   qdtext      = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
#   quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
# ``quoted_string_ascii`` is the same rule without obs-text, for places that refuse
# bytes >= 0x80 (chunk extensions: no extension needs them, llhttp refuses them).
_qdtext_ascii = r"\t \x21\x23-\x5b\x5d-\x7e"
_quoted_pair_ascii = r"\t \x21-\x7e"
quoted_string_ascii = r'"(?:[' + _qdtext_ascii + r"]|\\[" + _quoted_pair_ascii + r'])*"'
quoted_string = (
    r'"(?:[' + _qdtext_ascii + obs_text + r"]|\\[" + _quoted_pair_ascii + obs_text + r'])*"'
)


def _bytes(pattern: str) -> re.Pattern[bytes]:
    """The text pattern compiled for matching bytes (every piece above is ASCII)."""
    return re.compile(pattern.encode("ascii"))


TOKEN = _bytes(token)

# RFC 9110 §5.5: field-value = *field-content, built from VCHAR, obs-text, SP, HTAB.
# Anything else (NUL, CR, LF, other controls, DEL) makes the field invalid:
# "a recipient of CR, LF, or NUL within a field value MUST either reject the message".
INVALID_FIELD_VALUE_CHAR = _bytes("[" + field_value_forbidden + "]")

# A whole header section (field lines joined by CRLF, without the final empty line)
# in one pass: every line is ``token ":" field-value`` (RFC 9112 §5). Checking the
# block at once is several times faster than line by line; when it fails, the
# line-by-line parser finds the offending line and says what is wrong with it.
FIELD_BLOCK = _bytes(field_line + r"(?:\r\n" + field_line + ")*")

# RFC 9112 §3: request-line = method SP request-target SP HTTP-version
# Exactly one SP between parts. RFC 9112 §3.2 builds every request-target form from
# RFC 3986 URI components, which hold visible ASCII only (%x21-7E): no whitespace,
# no controls and no byte >= 0x80 (raw UTF-8 or latin-1 must be percent-encoded;
# h11 and llhttp refuse it too, and a proxy may decode it differently).
REQUEST_LINE = _bytes(
    "(?P<method>" + token + ") "  # RFC 9110 §9.1: method = token
    r"(?P<target>[\x21-\x7e]+) "
    r"(?P<version>HTTP/[0-9]\.[0-9])"
)

# RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT; used to tell a
# well-formed but unsupported version (505) from garbage (400).
ANY_HTTP_VERSION = re.compile(rb"HTTP/[0-9]+\.[0-9]+")

# RFC 9112 §2.2: a line feed not preceded by CR (a "bare LF"), which we refuse.
BARE_LF = re.compile(rb"(?<!\r)\n")

# RFC 9112 §7.1: chunk-size = 1*HEXDIG. We bound it to 16 digits (64 bits):
# longer sizes are an overflow attempt, never a real body.
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")

# RFC 9112 §7.1.1, everything after chunk-size on its line:
#   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
#   chunk-ext-name = token
#   chunk-ext-val  = token / quoted-string
# with quoted-string from RFC 9110 §5.6.4. Extensions are ignored, but a line that
# breaks this grammar is refused: a CR, bare LF or unterminated quote in one is how
# two parsers come to split a body differently (request smuggling). The grammar's
# obs-text (bytes >= 0x80) is refused too: no extension needs it, llhttp refuses it.
CHUNK_EXTENSION = _bytes(
    f"(?:{BWS};{BWS}{token}(?:{BWS}={BWS}(?:{token}|{quoted_string_ascii}))?)*"
)

# RFC 9112 §2.2: the bytes a request may start with that are not yet a request:
# the empty lines (CRLF) a server ignores before the request-line.
NOT_CRLF = re.compile(rb"[^\r\n]")

# RFC 9110 §8.6: Content-Length = 1*DIGIT. 18 digits keeps the value in a machine
# word; anything longer is refused rather than parsed.
CONTENT_LENGTH = re.compile(rb"[0-9]{1,18}")

# RFC 9110 §7.2: Host = uri-host [ ":" port ], with RFC 3986 §3.2.2 uri-host =
# IP-literal / IPv4address / reg-name (unreserved, pct-encoded, sub-delims) and
# port = *DIGIT. Empty is allowed (RFC 9112 §3.2). No userinfo: RFC 9110 §4.2.4
# deprecates it in http(s) URIs, and "user@host" is how targets get spoofed.
_HOST_CHAR = r"(?:[0-9A-Za-z\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})"
HOST = re.compile(rf"(?:\[[0-9A-Za-z\-._~!$&'()*+,;=:]*\]|{_HOST_CHAR}*)(?::[0-9]*)?")

# RFC 3986 §3.1 scheme "://" authority, for absolute-form targets (RFC 9112 §3.2.2).
ABSOLUTE_FORM = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+\-.]*)://(?P<authority>[^/?#]*)(?P<rest>.*)"
)
