"""CreditsFeed: the open live-credit pages, by user, and what each was last sent.

A small publish/subscribe keyed by user id, bounded per user and in all. Two
sources feed it: every spend handled by this process (``publish``, at once), and
the poll of the storage (``apply``, app/live_poll.py) for changes made anywhere
else: another worker process, another instance on the same database, an
administrator. Each page remembers the counter it was last sent, so the poll
sends only what differs; each user has a generation, bumped by every publish, so
a poll that read the database before a spend never sends its older counter after
that spend's push.

Sends never wait: ``send_text`` and ``close`` only queue bytes for the peer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from barehttp.protocol.websocket_errors import CloseCode
from barehttp.storage.base import LiveUsage, Usage
from barehttp.web.websocket import WebSocketClosed

SIGNED_OUT = "signed out"
SESSION_ENDED = "session ended"  # expired, or removed by another process


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


class Page:
    """One open page: whose it is, the session it opened with, what it was last sent."""

    __slots__ = ("last_sent", "subscriber", "token_hash", "user_id")

    def __init__(self, subscriber: Subscriber, user_id: int, token_hash: bytes) -> None:
        self.subscriber = subscriber
        self.user_id = user_id
        self.token_hash = token_hash
        self.last_sent: Usage | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The pages open when a poll began, and each user's generation then."""

    pages: tuple[Page, ...]
    generations: Mapping[int, int]

    @property
    def user_ids(self) -> frozenset[int]:
        return frozenset(self.generations)


class CreditsFeed:
    """Subscribers of each user's credits; nothing here waits on a subscriber."""

    def __init__(self, *, max_per_user: int, max_total: int) -> None:
        self._max_per_user = max_per_user
        self._max_total = max_total
        # Reentrant: a send that finds the connection gone may run its close
        # callback (unsubscribe) on this very thread.
        self._lock = threading.RLock()
        self._by_user: dict[int, list[Page]] = {}
        self._pages: dict[Subscriber, Page] = {}
        self._generations: dict[int, int] = {}

    @property
    def is_watched(self) -> bool:
        """True while any page is subscribed (else publishing is skipped)."""
        return bool(self._pages)

    def count(self, user_id: int) -> int:
        with self._lock:
            return len(self._by_user.get(user_id, ()))

    def subscribe(self, user_id: int, subscriber: Subscriber, token_hash: bytes) -> bool:
        """Add ``subscriber``, opened with the session of ``token_hash``; False when
        the user's or the overall bound is reached."""
        with self._lock:
            pages = self._by_user.get(user_id, [])
            if len(pages) >= self._max_per_user or len(self._pages) >= self._max_total:
                return False
            page = Page(subscriber, user_id, token_hash)
            self._by_user[user_id] = [*pages, page]
            self._pages[subscriber] = page
            self._generations.setdefault(user_id, 0)
            return True

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            page = self._pages.pop(subscriber, None)
            if page is None:
                return
            remaining = [other for other in self._by_user[page.user_id] if other is not page]
            if remaining:
                self._by_user[page.user_id] = remaining
            else:
                del self._by_user[page.user_id]
                del self._generations[page.user_id]

    def greet(self, subscriber: Subscriber, usage: Usage) -> None:
        """Send a new page its first counter, unless a fresher one reached it already."""
        with self._lock:
            page = self._pages.get(subscriber)
            if page is not None and page.last_sent is None:
                self._send(page, usage)

    def publish(self, user_id: int, usage: Usage) -> None:
        """A spend of ``user_id`` on this process: send ``usage`` to each of its pages."""
        with self._lock:
            if user_id not in self._generations:
                return
            self._generations[user_id] += 1
            for page in self._by_user.get(user_id, ()):
                self._send(page, usage)

    def snapshot(self) -> Snapshot:
        """The pages to poll for, taken before the storage is read."""
        with self._lock:
            return Snapshot(tuple(self._pages.values()), dict(self._generations))

    def apply(self, snapshot: Snapshot, found: Mapping[int, LiveUsage]) -> None:
        """What a poll read (after ``snapshot``): send changed counters, close ended sessions.

        Only pages of the snapshot are judged: a page opened since, with a session
        the read may not have seen yet, waits for the next poll.
        """
        ended: list[Page] = []
        with self._lock:
            for page in snapshot.pages:
                if self._pages.get(page.subscriber) is not page:
                    continue  # closed since
                live = found.get(page.user_id)
                if live is None or page.token_hash not in live.session_hashes:
                    ended.append(page)
                elif self._generations.get(page.user_id) != snapshot.generations[page.user_id]:
                    continue  # a spend here pushed a newer counter during the read
                elif page.last_sent != live.usage:
                    self._send(page, live.usage)
        for page in ended:
            _close(page.subscriber, SESSION_ENDED)

    def end_session(self, token_hash: bytes, reason: str = SIGNED_OUT) -> None:
        """Close the pages opened with the session of ``token_hash``: 1008."""
        with self._lock:
            pages = [page for page in self._pages.values() if page.token_hash == token_hash]
        for page in pages:
            _close(page.subscriber, reason)

    def _send(self, page: Page, usage: Usage) -> None:
        """Queue ``usage`` for ``page`` (lock held: the order of sends is the order here)."""
        try:
            page.subscriber.send_text(usage_message(usage))  # queued: a slow page delays no one
        except WebSocketClosed:
            self.unsubscribe(page.subscriber)
            return
        page.last_sent = usage


def _close(subscriber: Subscriber, reason: str) -> None:
    try:
        subscriber.close(CloseCode.POLICY_VIOLATION, reason)
    except WebSocketClosed:
        pass  # its close callback unsubscribes it
