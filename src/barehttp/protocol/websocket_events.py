"""Events a WebSocket connection produces from the peer's bytes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A complete text message, its UTF-8 checked and decoded (RFC 6455 §5.6)."""

    data: str


@dataclass(frozen=True, slots=True)
class BinaryMessage:
    """A complete binary message (RFC 6455 §5.6)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Ping:
    """A Ping (§5.5.2); the connection has already queued the Pong."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    """A Pong (§5.5.3), solicited or not."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class CloseReceived:
    """The peer's Close frame (§5.5.1); ``code`` is 1005 when it carried none (§7.1.5).

    If we had not sent a Close, the connection has queued its reply; either way the
    closing handshake is complete and the TCP connection should be closed.
    """

    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionFailed:
    """The peer broke a rule; a Close frame with ``code`` is queued (§7.1.7).

    The transport should send what is queued and close the TCP connection.
    """

    code: int
    reason: str


Event = TextMessage | BinaryMessage | Ping | Pong | CloseReceived | ConnectionFailed
