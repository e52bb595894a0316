"""The WebSocket opening handshake (RFC 6455 §4): checking the client's upgrade, the 101 answer.

``parse_upgrade_request(head)`` checks a parsed request against §4.2.1 and raises
``BadUpgrade`` (400) or ``UpgradeRequired`` (426) when it is not one we accept;
``accept_upgrade`` picks the subprotocol and extensions and gives the fields of the
101 response. Nothing here reads a socket: the server writes what it is given.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from barehttp.protocol import grammar
from barehttp.protocol.events import RequestHead
from barehttp.protocol.headers import Headers
from barehttp.protocol.websocket_deflate import DeflateParams, ExtensionOffer, negotiate_deflate
from barehttp.protocol.websocket_errors import WEBSOCKET_VERSION, BadUpgrade, UpgradeRequired
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.protocol.writer import check_field, status_line

# RFC 6455 §1.3: the GUID appended to the key before hashing.
ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

# RFC 9110 §5.6.2 token, and §5.6.4 quoted-string (qdtext or quoted-pair).
_TOKEN = grammar.token
_QUOTED = grammar.quoted_string
# RFC 6455 §9.1: extension = extension-token *( ";" extension-param ),
# extension-param = token [ "=" (token | quoted-string) ]
_PARAM = re.compile(rf"[ \t]*;[ \t]*({_TOKEN})(?:[ \t]*=[ \t]*({_TOKEN}|{_QUOTED}))?")
_EXTENSION = re.compile(rf"[ \t]*({_TOKEN})")
_LIST_SEPARATOR = re.compile(r"[ \t]*(?:,|$)")
_EMPTY_ELEMENTS = re.compile(r"[ \t,]*")  # RFC 9110 §5.6.1: empty list elements are allowed
_IS_TOKEN = re.compile(_TOKEN).fullmatch


def compute_accept(key: str) -> str:
    """Sec-WebSocket-Accept for ``key``: base64(SHA-1(key + GUID)) (RFC 6455 §4.2.2 item 5.4)."""
    digest = hashlib.sha1((key + ACCEPT_GUID).encode("ascii"), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


def _tokens(values: list[str]) -> list[str]:
    """RFC 9110 §5.6.1: the elements of a #list, empty ones dropped."""
    return [item.strip(" \t") for value in values for item in value.split(",") if item.strip(" \t")]


def parse_extensions(values: list[str]) -> list[ExtensionOffer]:
    """Sec-WebSocket-Extensions fields as offers, in order (RFC 6455 §9.1).

    A quoted value is unquoted; §9.1 says it MUST then be a token. Raises
    ``BadUpgrade`` when a field does not follow the grammar.
    """
    offers: list[ExtensionOffer] = []
    for value in values:
        position = 0
        while True:
            position = _EMPTY_ELEMENTS.match(value, position).end()  # type: ignore[union-attr]
            if position == len(value):
                break
            match = _EXTENSION.match(value, position)
            if match is None:
                raise BadUpgrade("malformed Sec-WebSocket-Extensions")
            name = match.group(1)
            position = match.end()
            parameters: list[tuple[str, str | None]] = []
            while (param := _PARAM.match(value, position)) is not None:
                key, raw = param.group(1), param.group(2)
                if raw is not None and raw.startswith('"'):
                    raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
                    if _IS_TOKEN(raw) is None:
                        raise BadUpgrade("malformed Sec-WebSocket-Extensions")
                parameters.append((key, raw))
                position = param.end()
            separator = _LIST_SEPARATOR.match(value, position)
            if separator is None:
                raise BadUpgrade("malformed Sec-WebSocket-Extensions")
            position = separator.end()
            offers.append((name, tuple(parameters)))
    return offers


@dataclass(frozen=True, slots=True)
class UpgradeRequest:
    """A valid opening handshake: what the client asked for."""

    key: str
    subprotocols: tuple[str, ...]  # Sec-WebSocket-Protocol, in the client's order
    extensions: tuple[ExtensionOffer, ...]  # Sec-WebSocket-Extensions, in order


def is_upgrade_request(head: RequestHead) -> bool:
    """True when the request asks to upgrade to WebSocket (even if malformed)."""
    return "websocket" in (token.lower() for token in _tokens(head.headers.get_all("upgrade")))


def _single(headers: Headers, name: str) -> str:
    values = headers.get_all(name)
    if len(values) != 1:
        raise BadUpgrade(f"{'missing' if not values else 'repeated'} {name} header")
    return values[0]


def parse_upgrade_request(head: RequestHead) -> UpgradeRequest:
    """Check the client's opening handshake (RFC 6455 §4.2.1) and return what it asks for.

    Raises:
        BadUpgrade: 400, the request is not a valid WebSocket upgrade.
        UpgradeRequired: 426, it is, for a version other than 13 (§4.2.2 item 4).
    """
    headers = head.headers
    if head.method != "GET":  # §4.2.1 item 1: "An HTTP/1.1 or higher GET request"
        raise BadUpgrade("a WebSocket upgrade must be a GET request")
    if head.http_version != "HTTP/1.1":  # §4.1: HTTP/1.1 or higher
        raise BadUpgrade("a WebSocket upgrade needs HTTP/1.1")
    # The bytes after the head are frames; a body before them would be read as a
    # frame by one party and as content by another (RFC 9112 §6.3 framing).
    if head.chunked or head.content_length:
        raise BadUpgrade("a WebSocket upgrade has no request content")
    if not is_upgrade_request(head):  # §4.2.1 item 3: Upgrade includes "websocket"
        raise BadUpgrade("Upgrade header does not include websocket")
    # §4.2.1 item 4: Connection includes the token "Upgrade" (case-insensitive).
    if "upgrade" not in (token.lower() for token in _tokens(headers.get_all("connection"))):
        raise BadUpgrade("Connection header does not include Upgrade")
    # §4.2.1 item 6 and §4.2.2 item 4: Version 13; another gets 426 listing ours.
    if _single(headers, "sec-websocket-version").strip(" \t") != WEBSOCKET_VERSION:
        raise UpgradeRequired("unsupported Sec-WebSocket-Version")
    # §4.2.1 item 5: the key, base64 of 16 bytes (24 characters with padding).
    key = _single(headers, "sec-websocket-key").strip(" \t")
    try:
        decoded = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        decoded = b""
    if len(decoded) != 16:
        raise BadUpgrade("Sec-WebSocket-Key is not 16 bytes in base64")
    # §4.1 and §11.3.4: Sec-WebSocket-Protocol = 1#token, may be repeated.
    subprotocols = _tokens(headers.get_all("sec-websocket-protocol"))
    if any(_IS_TOKEN(protocol) is None for protocol in subprotocols):
        raise BadUpgrade("malformed Sec-WebSocket-Protocol")
    extensions = parse_extensions(headers.get_all("sec-websocket-extensions"))
    return UpgradeRequest(key, tuple(subprotocols), tuple(extensions))


def select_subprotocol(offered: Sequence[str], supported: Iterable[str]) -> str | None:
    """Our first supported subprotocol that the client offered (§4.2.2 item 5.5), or None."""
    for protocol in supported:
        if protocol in offered:
            return protocol
    return None


@dataclass(frozen=True, slots=True)
class Acceptance:
    """The answer to a valid upgrade: the 101 response fields and what was agreed."""

    fields: tuple[tuple[str, str], ...]
    subprotocol: str | None
    deflate: DeflateParams | None  # None when permessage-deflate is not in use

    def format_head(self) -> bytes:
        """The whole 101 response head (RFC 6455 §4.2.2 item 5); no body follows."""
        lines = [status_line("HTTP/1.1", 101)]
        lines += [f"{name}: {value}\r\n".encode("latin-1") for name, value in self.fields]
        return b"".join(lines) + b"\r\n"


def accept_upgrade(
    request: UpgradeRequest,
    *,
    subprotocol: str | None = None,
    deflate: bool = True,
    limits: WebSocketLimits | None = None,
    extra_fields: Iterable[tuple[str, str]] = (),
) -> Acceptance:
    """The 101 response accepting ``request`` (RFC 6455 §4.2.2 item 5).

    ``subprotocol`` must be one the client offered; ``deflate`` allows
    permessage-deflate when the client offers it; ``extra_fields`` (e.g.
    Set-Cookie) are checked like any response field.
    """
    if subprotocol is not None and subprotocol not in request.subprotocols:
        raise ValueError(f"subprotocol {subprotocol!r} was not offered by the client")
    fields = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", compute_accept(request.key)),
    ]
    if subprotocol is not None:
        fields.append(("Sec-WebSocket-Protocol", subprotocol))
    params: DeflateParams | None = None
    if deflate:
        negotiated = negotiate_deflate(list(request.extensions), limits or WebSocketLimits())
        if negotiated is not None:
            params, extension = negotiated
            fields.append(("Sec-WebSocket-Extensions", extension))
    reserved = {name.lower() for name, _ in fields}
    for name, value in extra_fields:
        check_field(name, value)
        if name.lower() in reserved or name.lower() in ("content-length", "transfer-encoding"):
            raise ValueError(f"response header {name!r} is set by the handshake")
        fields.append((name, value))
    return Acceptance(tuple(fields), subprotocol, params)


def format_client_request(
    host: str,
    target: str,
    key: str,
    *,
    subprotocols: Sequence[str] = (),
    extensions: str | None = None,
) -> bytes:
    """A client's opening handshake (RFC 6455 §4.1), for the client role and tests."""
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        f"Sec-WebSocket-Version: {WEBSOCKET_VERSION}",
    ]
    if subprotocols:
        lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
    if extensions is not None:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
