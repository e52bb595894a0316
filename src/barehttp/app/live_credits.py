"""Live credits: the home page's meter, pushed over a WebSocket whenever the user's credits change.

``GET /ws/credits`` opens a parked WebSocket (no thread while idle) for the
signed-in user: the session cookie authenticates it, and an ``Origin`` naming
another site is refused with 403, as is a visitor. A browser sends cookies with
a WebSocket handshake from any site, so without the Origin check a hostile page
could read a user's feed (cross-site WebSocket hijacking).

``CreditsFeed`` is a small publish/subscribe keyed by user id, bounded per user
and in all; every spend on this instance, from the HTML form or the JSON API,
publishes the new counter to each open page of that user.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Protocol

from barehttp.app.accounts import Accounts
from barehttp.app.guard import Forbidden, check_same_origin, current_viewer, session_token
from barehttp.protocol.websocket_errors import CloseCode
from barehttp.storage.base import Usage
from barehttp.web.websocket import WebSocket, WebSocketClosed

logger = logging.getLogger("barehttp.app")


class Subscriber(Protocol):
    def send_text(self, text: str) -> None:
        """Queue ``text`` for the peer without waiting; raises WebSocketClosed."""
        ...

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake; a no-op once closing."""
        ...


def usage_message(usage: Usage) -> str:
    """What a page is sent: the same names as ``GET /api/usage``."""
    return json.dumps(
        {
            "used": usage.credits_used,
            "limit": usage.credits_limit,
            "remaining": usage.credits_remaining,
        }
    )


class CreditsFeed:
    """Subscribers of each user's credits; ``publish`` never waits on a subscriber."""

    def __init__(self, *, max_per_user: int, max_total: int) -> None:
        self._max_per_user = max_per_user
        self._max_total = max_total
        self._lock = threading.Lock()
        self._by_user: dict[int, list[Subscriber]] = {}
        self._sessions: dict[Subscriber, str] = {}  # the session token each page opened with
        self._total = 0

    @property
    def is_watched(self) -> bool:
        """True while any page is subscribed (else publishing is skipped)."""
        return self._total > 0

    def count(self, user_id: int) -> int:
        with self._lock:
            return len(self._by_user.get(user_id, ()))

    def subscribe(self, user_id: int, subscriber: Subscriber, token: str) -> bool:
        """Add ``subscriber`` (opened with session ``token``); False when the user's or
        the overall bound is reached."""
        with self._lock:
            subscribers = self._by_user.setdefault(user_id, [])
            if len(subscribers) >= self._max_per_user or self._total >= self._max_total:
                if not subscribers:
                    del self._by_user[user_id]
                return False
            subscribers.append(subscriber)
            self._sessions[subscriber] = token
            self._total += 1
            return True

    def unsubscribe(self, user_id: int, subscriber: Subscriber) -> None:
        with self._lock:
            subscribers = self._by_user.get(user_id)
            if subscribers is None or subscriber not in subscribers:
                return
            subscribers.remove(subscriber)
            self._sessions.pop(subscriber, None)
            self._total -= 1
            if not subscribers:
                del self._by_user[user_id]

    def publish(self, user_id: int, usage: Usage) -> None:
        """Send ``usage`` to every page of ``user_id``."""
        with self._lock:
            subscribers = list(self._by_user.get(user_id, ()))
        if not subscribers:
            return
        message = usage_message(usage)
        for subscriber in subscribers:
            try:
                subscriber.send_text(message)  # queued: a slow page delays no one
            except WebSocketClosed:
                self.unsubscribe(user_id, subscriber)

    def end_session(self, token: str) -> None:
        """Close the pages opened with session ``token`` (signed out): 1008."""
        with self._lock:
            pages = [page for page, opened_with in self._sessions.items() if opened_with == token]
        for page in pages:
            try:
                page.close(CloseCode.POLICY_VIOLATION, "signed out")
            except WebSocketClosed:
                pass  # on_close unsubscribes it


class LiveCredits:
    """The ``/ws/credits`` WebSocket handler and the publishing side of spends."""

    def __init__(self, accounts: Accounts, feed: CreditsFeed) -> None:
        self.accounts = accounts
        self.feed = feed

    def open(self, ws: WebSocket) -> None:
        """Handler of ``GET /ws/credits``: returning without accept() answers 403."""
        request = ws.request
        try:
            check_same_origin(request)  # cross-site WebSocket hijacking
        except Forbidden:
            logger.info("live credits refused: Origin %r", request.headers.get("origin"))
            return
        viewer = current_viewer(self.accounts, request)
        if viewer is None:
            return
        user_id = viewer.user.id
        ws.accept()
        token = session_token(request)
        assert token is not None  # a viewer was found by it
        if not self.feed.subscribe(user_id, ws, token):
            ws.close(CloseCode.TRY_AGAIN_LATER, "too many live pages")
            return
        ws.on_close(lambda code, reason: self.feed.unsubscribe(user_id, ws))
        # Read after subscribing: no spend can fall between this and the feed.
        ws.send_text(usage_message(self.accounts.quota.usage(user_id)))

    def spent(self, user_id: int, usage: Usage) -> None:
        """A spend of ``user_id`` succeeded: tell the user's open pages."""
        self.feed.publish(user_id, usage)

    def signed_out(self, token: str) -> None:
        """Session ``token`` ended: its live pages are closed."""
        if self.feed.is_watched:
            self.feed.end_session(token)

    def spent_by_session(self, token: str, usage: Usage) -> None:
        """A spend through the session ``token`` succeeded (the API knows no user id)."""
        if not self.feed.is_watched:  # no page open at all: no lookup on the hot path
            return
        viewer = self.accounts.current_user(token)
        if viewer is not None:
            self.feed.publish(viewer.user.id, usage)
