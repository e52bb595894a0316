"""Regular expressions for the parts of RFC 9110/9112 grammar the parser checks."""

from __future__ import annotations

import re

# RFC 9110 §5.6.2: token = 1*tchar
#   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# RFC 9110 §5.5: field-value = *field-content, built from VCHAR, obs-text, SP, HTAB.
# Anything else (NUL, CR, LF, other controls, DEL) makes the field invalid:
# "a recipient of CR, LF, or NUL within a field value MUST either reject the message".
INVALID_FIELD_VALUE_CHAR = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")

# A whole header section (field lines joined by CRLF, without the final empty line)
# in one pass: every line is ``token ":" field-value`` (RFC 9112 §5). Checking the
# block at once is several times faster than line by line; when it fails, the
# line-by-line parser finds the offending line and says what is wrong with it.
FIELD_BLOCK = re.compile(
    rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*"
    rb"(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*)*"
)

# RFC 9112 §3: request-line = method SP request-target SP HTTP-version
# Exactly one SP between parts. RFC 9112 §3.2 builds every request-target form from
# RFC 3986 URI components, which hold visible ASCII only (%x21-7E): no whitespace,
# no controls and no byte >= 0x80 (raw UTF-8 or latin-1 must be percent-encoded;
# h11 and llhttp refuse it too, and a proxy may decode it differently).
REQUEST_LINE = re.compile(
    rb"(?P<method>[!#$%&'*+\-.^_`|~0-9A-Za-z]+) "
    rb"(?P<target>[\x21-\x7e]+) "
    rb"(?P<version>HTTP/[0-9]\.[0-9])"
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
_BWS = rb"[ \t]*"
_QUOTED_STRING = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e]|\\[\t \x21-\x7e])*"'
CHUNK_EXTENSION = re.compile(
    rb"(?:%s;%s%s(?:%s=%s(?:%s|%s))?)*"
    % (_BWS, _BWS, TOKEN.pattern, _BWS, _BWS, TOKEN.pattern, _QUOTED_STRING)
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
