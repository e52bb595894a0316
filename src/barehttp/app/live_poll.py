"""CreditsPoller: brings changes made outside this process to its open live-credit pages.

A spend handled by this process reaches its pages at once (``CreditsFeed.publish``).
One made elsewhere (another worker process of ``--workers N``, another instance
on the same PostgreSQL, ``barehttp users set-limit``) and a session ending (expiry,
a sign-out handled elsewhere) reach them through this poll: while any page is
open, one thread per process reads, every ``interval_s``, the counters and live
sessions of all watched users in ONE storage call (``Storage.get_live_usage``),
then sends each page only what changed and closes pages whose session is gone
(1008). With no page open there is no thread and no query; the thread ends when
the last page closes, and ``stop()`` ends it at shutdown.
"""

from __future__ import annotations

import enum
import logging
import math
import threading

from barehttp.app.clock import Clock, system_clock
from barehttp.app.credits_feed import CreditsFeed
from barehttp.storage.base import Storage, StorageError

logger = logging.getLogger("barehttp.app")

STOP_TIMEOUT_S = 5.0  # a poll in flight is one bounded storage call (statement timeout)


class PollerState(enum.Enum):
    IDLE = enum.auto()  # no page open: no thread
    POLLING = enum.auto()  # the thread runs: waits interval_s, reads, applies
    STOPPED = enum.auto()  # shut down: never starts again


class CreditsPoller:
    """The one poll thread of a process, started by the first open page."""

    def __init__(
        self,
        feed: CreditsFeed,
        storage: Storage,
        *,
        interval_s: float,
        clock: Clock = system_clock,
    ) -> None:
        if not math.isfinite(interval_s) or interval_s <= 0:
            raise ValueError(f"interval_s must be a positive number of seconds, got {interval_s!r}")
        self._feed = feed
        self._storage = storage
        self._interval_s = interval_s
        self._clock = clock  # Unix time, as the sessions' expires_at
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._state = PollerState.IDLE
        self._thread: threading.Thread | None = None
        self._failing = False  # log the first failure of a run of them, not each one

    @property
    def state(self) -> PollerState:
        return self._state

    def watch(self) -> None:
        """A page was subscribed: start the thread unless it runs (or we shut down)."""
        with self._lock:
            if self._state is not PollerState.IDLE:
                return
            self._state = PollerState.POLLING
            self._thread = threading.Thread(
                target=self._run, name="barehttp-live-credits", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Shut down: end the thread (after its poll in flight, if any) and never restart."""
        with self._lock:
            self._state = PollerState.STOPPED
            self._wake.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_TIMEOUT_S)

    def poll_once(self) -> None:
        """Read the watched users' counters and sessions, then update their pages."""
        snapshot = self._feed.snapshot()  # before the read: see CreditsFeed.apply
        if not snapshot.pages:
            return
        found = self._storage.get_live_usage(snapshot.user_ids, self._clock())
        self._feed.apply(snapshot, found)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._state is PollerState.STOPPED, self._interval_s)
                # Under the lock that watch() takes: a page subscribed after this
                # check finds the state IDLE and starts a new thread.
                if self._state is PollerState.STOPPED or not self._feed.is_watched:
                    if self._state is PollerState.POLLING:
                        self._state = PollerState.IDLE
                    self._thread = None
                    return
            self._poll_logged()

    def _poll_logged(self) -> None:
        try:
            self.poll_once()
        except StorageError as error:  # the database is down: retried each interval
            if not self._failing:
                logger.warning("live credits: cannot read the watched users: %s", error)
            self._failing = True
            return
        except Exception:  # a bug: keep the pages served by the next poll
            logger.exception("live credits: poll failed")
            return
        if self._failing:
            logger.info("live credits: reading the watched users again")
        self._failing = False
