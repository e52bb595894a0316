"""Keepalive: the server's Pings on an open WebSocket, and the drop of a peer gone silent.

RFC 6455 §5.5.2: either side may Ping; a live peer answers with a Pong
(§5.5.3). After ``ping_interval_s`` without a byte from the peer, one Ping is
sent; if ``ping_timeout_s`` more pass without a byte (the Pong, or anything
else), the peer is taken for gone (a dead host, a dropped NAT mapping, a client
that stopped reading): the connection is closed with 1011 and dropped.

Hearing is any bytes at all, not only the Pong: a peer busy sending a large
message is alive. While the server itself has paused reading (the app is
behind, ``max_queued_messages``), the peer's bytes wait in the kernel unheard,
so that time counts as heard.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from barehttp.protocol.websocket_limits import WebSocketLimits


class Keepalive:
    def __init__(
        self,
        limits: WebSocketLimits,
        *,
        send_ping: Callable[[], None],
        on_silence: Callable[[], None],
        is_reading_paused: Callable[[], bool],
    ) -> None:
        self._interval_s = limits.ping_interval_s
        self._timeout_s = limits.ping_timeout_s
        self._send_ping = send_ping
        self._on_silence = on_silence  # the peer is gone: close 1011 and drop
        self._is_reading_paused = is_reading_paused
        self._loop = asyncio.get_running_loop()
        self._heard_at = self._loop.time()
        self._ping_sent_at: float | None = None  # the unanswered Ping's time
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._heard_at = self._loop.time()
        self._schedule(self._heard_at + self._interval_s)

    def heard(self) -> None:
        """Bytes came from the peer (cheap: called for every read)."""
        self._heard_at = self._loop.time()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, when: float) -> None:
        self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self._loop.time()
        if self._is_reading_paused():
            self._heard_at = now  # we are not listening: the peer may well be talking
        sent_at = self._ping_sent_at
        if sent_at is not None and self._heard_at <= sent_at:
            if now >= sent_at + self._timeout_s:
                self._on_silence()
                return
            self._schedule(sent_at + self._timeout_s)
            return
        self._ping_sent_at = None  # answered (or anything else heard since)
        if now >= self._heard_at + self._interval_s:
            self._send_ping()
            self._ping_sent_at = now
            self._schedule(now + self._timeout_s)
        else:
            self._schedule(self._heard_at + self._interval_s)
