"""What a parsed request head means: framing, persistence, expectation, target form.

RFC 9112 §3.2 (request-target forms and Host), §6 (message body framing) and
§9.3 (persistence), RFC 9110 §10.1.1 (Expect). ``build_head`` turns the request
line and the field lines into a ``RequestHead`` or raises the ``HTTPError`` to answer.
"""

from __future__ import annotations

from barehttp.protocol import grammar
from barehttp.protocol.errors import (
    BadRequest,
    ContentTooLarge,
    ExpectationFailed,
    UnknownTransferCoding,
)
from barehttp.protocol.events import RequestHead
from barehttp.protocol.headers import Headers
from barehttp.protocol.limits import Limits

_NONE: list[str] = []


def _comma_list(values: list[str]) -> list[str]:
    """RFC 9110 §5.6.1: split a #list, dropping empty elements."""
    return [
        item.strip(" \t").lower()
        for value in values
        for item in value.split(",")
        if item.strip(" \t")
    ]


def build_head(
    method: str,
    target: str,
    version: str,
    fields: list[tuple[str, str]],
    framing: dict[str, list[str]],
    limits: Limits,
) -> RequestHead:
    is_http11 = version == "HTTP/1.1"
    hosts = len(framing.get("host", _NONE))
    # RFC 9112 §3.2: a 1.1 request without exactly one Host gets 400.
    if hosts > 1 or (is_http11 and hosts == 0):
        raise BadRequest("HTTP/1.1 requests need exactly one Host header")

    if len(framing) == hosts == 1:
        # The common case, a request with no body and no Connection, Expect or
        # framing fields: nothing below applies.
        path, query = _split_target(method, target, fields)
        return RequestHead(
            method, target, path, query, version, Headers(fields), is_http11, None, False, False
        )
    content_lengths = framing.get("content-length", _NONE)
    transfer_codings = framing.get("transfer-encoding", _NONE)
    connection = framing.get("connection", _NONE)
    expect = framing.get("expect", _NONE)

    chunked = False
    content_length: int | None = None
    if transfer_codings:
        # RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
        if not is_http11:
            raise BadRequest("Transfer-Encoding is not allowed in HTTP/1.0")
        # RFC 9112 §6.3 (3): Content-Length with Transfer-Encoding is a smuggling vector.
        if content_lengths:
            raise BadRequest("Content-Length together with Transfer-Encoding")
        # RFC 9110 §5.6.1 lets a recipient skip empty list elements, but not here: a
        # front end that reads only the first or the last Transfer-Encoding line, or
        # trims "chunked," differently, sees no body where we see a chunked one, and the
        # chunks become a request of their own. h11 and llhttp refuse them too.
        if any(not item.strip(" \t") for value in transfer_codings for item in value.split(",")):
            raise BadRequest("empty element in Transfer-Encoding")
        codings = _comma_list(transfer_codings)
        # RFC 9112 §6.3 (4): chunked must be the final coding, and only once (§7).
        if not codings or codings[-1] != "chunked" or codings.count("chunked") > 1:
            raise BadRequest("chunked must be the final transfer coding, applied once")
        if len(codings) > 1:  # RFC 9112 §6.1: a coding we do not implement gets 501
            raise UnknownTransferCoding(f"transfer coding not supported: {codings[0]}")
        chunked = True
    elif content_lengths:
        content_length = _parse_content_length(content_lengths)
        if content_length > limits.max_body_bytes:  # refuse before reading any of it
            raise ContentTooLarge(f"request body over {limits.max_body_bytes} bytes")

    options = _comma_list(connection)
    # RFC 9112 §9.3: "close" always ends the connection; otherwise 1.1 is persistent
    # and 1.0 only with "keep-alive".
    keep_alive = "close" not in options and (is_http11 or "keep-alive" in options)

    expects_continue = False
    if expect:
        expectations = _comma_list(expect)
        # RFC 9110 §10.1.1: 100-continue is the only expectation defined.
        if any(item != "100-continue" for item in expectations):
            raise ExpectationFailed("only the 100-continue expectation is supported")
        expects_continue = is_http11  # 1.0 clients cannot receive a 1xx

    path, query = _split_target(method, target, fields)
    return RequestHead(
        method=method,
        target=target,
        path=path,
        query=query,
        http_version=version,
        headers=Headers(fields),
        keep_alive=keep_alive,
        content_length=content_length,
        chunked=chunked,
        expects_continue=expects_continue and (chunked or bool(content_length)),
    )


def _parse_content_length(values: list[str]) -> int:
    # RFC 9110 §8.6 / RFC 9112 §6.3 (5): every member must be 1*DIGIT and all equal;
    # "42, 42" is accepted as 42, differing values are a smuggling attempt.
    members = {item.strip(" \t") for value in values for item in value.split(",")}
    if len(members) != 1:
        raise BadRequest("differing Content-Length values")
    member = members.pop()
    if grammar.CONTENT_LENGTH.fullmatch(member.encode("latin-1")) is None:
        raise BadRequest("Content-Length must be a decimal number")
    return int(member)


def _split_target(method: str, target: str, fields: list[tuple[str, str]]) -> tuple[str, str]:
    """Split the request-target (RFC 9112 §3.2) into path and query."""
    if target[0] == "/":  # origin-form, by far the commonest
        path, _, query = target.partition("?")
        return path, query
    if target == "*":  # asterisk-form is for OPTIONS only (§3.2.4)
        if method != "OPTIONS":
            raise BadRequest("asterisk-form target is only allowed with OPTIONS")
        return "*", ""
    match = grammar.ABSOLUTE_FORM.fullmatch(target)
    if match is None or match.group("scheme").lower() not in ("http", "https"):
        raise BadRequest("request target must be origin-form or an absolute http(s) URI")
    # §3.2.2: with absolute-form the server MUST ignore Host and use the target's authority.
    authority = match.group("authority")
    # RFC 9110 §4.2.1: an http(s) URI with an empty host is invalid.
    if not authority or authority[0] == ":":
        raise BadRequest("absolute-form target without a host")
    if grammar.HOST.fullmatch(authority) is None:  # RFC 9110 §4.2.4: no userinfo either
        raise BadRequest("absolute-form target must name host[:port] only")
    for index, (name, _) in enumerate(fields):
        if name == "host":
            fields[index] = ("host", authority)
            break
    else:  # an HTTP/1.0 request may come without Host
        fields.append(("host", authority))
    rest = match.group("rest") or "/"
    path, _, query = rest.partition("?")
    return path or "/", query
