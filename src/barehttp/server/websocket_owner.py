"""What a WebSocket session shares with the hub that owns it and the code that uses it."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

Message = str | bytes
MessageCallback = Callable[[Message], None]
CloseCallback = Callable[[int, str], None]
SessionT = TypeVar("SessionT", contravariant=True)


class SessionState(enum.Enum):
    OPEN = enum.auto()  # messages flow both ways
    CLOSING = enum.auto()  # our Close is sent; the peer's is awaited (§7.1.2)
    FLUSHING = enum.auto()  # the closing handshake is over: last bytes out, then TCP closes
    CLOSED = enum.auto()  # TCP closed


class WebSocketClosed(Exception):
    """The WebSocket is closed: ``code`` and ``reason`` say how (1006: dropped, no Close)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"WebSocket closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


class SessionOwner(Protocol[SessionT]):
    """What a session needs from the hub that watches it."""

    def rearm(self, session: SessionT) -> None:
        """Watch the session's socket for what it wants now (``wants_read``, ``wants_write``)."""
        ...

    def forget(self, session: SessionT) -> None:
        """Stop watching the session; its socket is about to close."""
        ...

    def dispatch(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the worker pool."""
        ...

    def read_soon(self, session: SessionT) -> None:
        """Call ``on_readable`` from the hub thread soon (TLS bytes epoll cannot see)."""
        ...


@dataclass(frozen=True, slots=True)
class SessionTimes:
    """The session's timings, in seconds of ``clock``."""

    write_timeout_s: float  # an outbox making no progress this long: the peer is dropped
    clock: Callable[[], float]
