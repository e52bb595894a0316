"""Live credits: the home page's meter, pushed over a WebSocket whenever the user's credits change.

``GET /ws/credits`` opens a parked WebSocket (no thread while idle) for the
signed-in user: the session cookie authenticates it, and an ``Origin`` naming
another site is refused with 403, as is a visitor. A browser sends cookies with
a WebSocket handshake from any site, so without the Origin check a hostile page
could read a user's feed (cross-site WebSocket hijacking).

Each open page is in the ``CreditsFeed`` (app/credits_feed.py): every spend on
this process, from the HTML form or the JSON API, is published at once to the open
pages of that user; the ``CreditsPoller`` (app/live_poll.py) brings changes made
by other processes and instances, and closes pages whose session ended.
"""

from __future__ import annotations

import logging

from barehttp.app.accounts import Accounts
from barehttp.app.credits_feed import CreditsFeed
from barehttp.app.guard import Forbidden, check_same_origin, current_viewer, session_token
from barehttp.app.live_poll import CreditsPoller
from barehttp.app.sessions import hash_token
from barehttp.protocol.websocket_errors import CloseCode
from barehttp.storage.base import Usage
from barehttp.web.websocket import WebSocket

logger = logging.getLogger("barehttp.app")


class LiveCredits:
    """The ``/ws/credits`` WebSocket handler and the publishing side of spends."""

    def __init__(self, accounts: Accounts, feed: CreditsFeed, poller: CreditsPoller) -> None:
        self.accounts = accounts
        self.feed = feed
        self.poller = poller

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
        token_hash = None if token is None else hash_token(token)
        assert token_hash is not None  # a viewer was found by it
        if not self.feed.subscribe(user_id, ws, token_hash):
            ws.close(CloseCode.TRY_AGAIN_LATER, "too many live pages")
            return
        ws.on_close(lambda code, reason: self.feed.unsubscribe(ws))
        self.poller.watch()
        # Read after subscribing: no spend can fall between this and the feed.
        self.feed.greet(ws, self.accounts.quota.usage(user_id))

    def spent(self, user_id: int, usage: Usage) -> None:
        """A spend of ``user_id`` succeeded: tell the user's open pages."""
        self.feed.publish(user_id, usage)

    def signed_out(self, token: str) -> None:
        """Session ``token`` ended: its live pages are closed."""
        token_hash = hash_token(token)
        if self.feed.is_watched and token_hash is not None:
            self.feed.end_session(token_hash)

    def spent_by_session(self, token: str, usage: Usage) -> None:
        """A spend through the session ``token`` succeeded (the API knows no user id)."""
        if not self.feed.is_watched:  # no page open at all: no lookup on the hot path
            return
        viewer = self.accounts.current_user(token)
        if viewer is not None:
            self.feed.publish(viewer.user.id, usage)

    def close(self) -> None:
        """At shutdown, before the storage closes: the poll stops."""
        self.poller.stop()
