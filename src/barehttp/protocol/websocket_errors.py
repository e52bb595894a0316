"""WebSocket errors: each carries the close code (RFC 6455 §7.4) or the HTTP status it maps to."""

from __future__ import annotations

import enum
from typing import ClassVar

from barehttp.protocol.errors import BadRequest, HTTPError

WEBSOCKET_VERSION = "13"  # RFC 6455 §4.1: the only version this implementation speaks


class CloseCode(enum.IntEnum):
    """Status codes of a Close frame (RFC 6455 §7.4.1, IANA registry §11.7)."""

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RECEIVED = 1005  # reported, never sent (§7.4.1)
    ABNORMAL_CLOSURE = 1006  # reported, never sent (§7.4.1)
    INVALID_DATA = 1007  # e.g. non-UTF-8 text (§8.1)
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012  # IANA registry, after RFC 6455
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015  # reported, never sent (§7.4.1)


# RFC 6455 §7.4.1 and §7.4.2: codes an endpoint may put in a Close frame. 1005, 1006
# and 1015 are reserved for reporting, 1004 is reserved, 0-999 and 1016-2999 are not
# used; 3000-3999 are registered by libraries and 4000-4999 are private.
_SENDABLE_RFC_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})
_SENDABLE_IANA_CODES = frozenset({1012, 1013, 1014})


def is_sendable_close_code(code: int) -> bool:
    """True for a code that may appear in a Close frame on the wire (§7.4)."""
    return code in _SENDABLE_RFC_CODES or code in _SENDABLE_IANA_CODES or 3000 <= code <= 4999


class WebSocketError(Exception):
    """A violation found in the peer's frames; the connection is failed (§7.1.7).

    ``close_code`` is the status sent in our Close frame; the message is safe to
    send as its reason (it never echoes peer data).
    """

    close_code: ClassVar[int] = CloseCode.PROTOCOL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ProtocolError(WebSocketError):
    """Framing broken: unmasked client frame, reserved bit or opcode, bad close code..."""

    close_code = CloseCode.PROTOCOL_ERROR


class InvalidData(WebSocketError):
    """Data inconsistent with its type: text that is not UTF-8 (§8.1)."""

    close_code = CloseCode.INVALID_DATA


class PolicyViolation(WebSocketError):
    """The peer broke a rule of ours that has no more specific code (§7.4.1)."""

    close_code = CloseCode.POLICY_VIOLATION


class MessageTooBig(WebSocketError):
    """A frame or message over a configured limit (§7.4.1, §10.4)."""

    close_code = CloseCode.MESSAGE_TOO_BIG


class BadUpgrade(BadRequest):
    """A malformed opening handshake (RFC 6455 §4.2.1): 400 Bad Request."""


class UpgradeRequired(HTTPError):
    """An opening handshake for a version we do not speak (RFC 6455 §4.2.2 item 4).

    ``headers`` go in the 426 response: the versions we understand (§4.4), and
    the protocol to upgrade to (RFC 9110 §15.5.22: a 426 MUST carry Upgrade).
    """

    status = 426
    reason = "Upgrade Required"
    headers: ClassVar[tuple[tuple[str, str], ...]] = (
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", WEBSOCKET_VERSION),
    )
