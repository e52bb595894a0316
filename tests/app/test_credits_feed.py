"""CreditsFeed and CreditsPoller: what each page is sent, and when the poll thread runs.

Pages here are recording subscribers (the feed only queues text and starts closes;
tests/integration/test_accounts_app_live*.py run the same over real WebSockets).
The storage is a real SQLite file.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import pytest

from barehttp.app.credits_feed import SESSION_ENDED, CreditsFeed
from barehttp.app.live_poll import CreditsPoller, PollerState
from barehttp.protocol.websocket_errors import CloseCode
from barehttp.storage.base import LiveUsage, Session, StorageUnavailable, Usage
from barehttp.storage.sqlite import SQLiteStorage
from barehttp.web.websocket import WebSocketClosed
from tests.app.conftest import FakeClock

LAPTOP = b"l" * 32
PHONE = b"p" * 32


class Recorder:
    """A page: what it was sent (the ``used`` of each message) and how it was closed."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.closed: tuple[int, str] | None = None

    def send_text(self, text: str) -> None:
        if self.closed is not None:
            raise WebSocketClosed(self.closed[0], self.closed[1])
        self.sent.append(json.loads(text)["used"])

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        if self.closed is None:
            self.closed = (code, reason)


def used(count: int) -> Usage:
    return Usage(credits_used=count, credits_limit=100)


def live(count: int, *sessions: bytes) -> LiveUsage:
    return LiveUsage(usage=used(count), session_hashes=frozenset(sessions))


@pytest.fixture
def feed() -> CreditsFeed:
    return CreditsFeed(max_per_user=2, max_total=3)


def test_a_poll_sends_each_page_only_what_changed(feed: CreditsFeed) -> None:
    first, second = Recorder(), Recorder()
    assert feed.subscribe(1, first, LAPTOP) and feed.subscribe(1, second, PHONE)
    feed.greet(first, used(0))
    feed.apply(feed.snapshot(), {1: live(0, LAPTOP, PHONE)})
    assert (first.sent, second.sent) == ([0], [0])  # the second was not greeted yet
    feed.apply(feed.snapshot(), {1: live(0, LAPTOP, PHONE)})
    feed.apply(feed.snapshot(), {1: live(4, LAPTOP, PHONE)})
    feed.apply(feed.snapshot(), {1: live(4, LAPTOP, PHONE)})
    assert (first.sent, second.sent) == ([0, 4], [0, 4])


def test_a_read_older_than_a_spend_here_is_not_sent_after_it(feed: CreditsFeed) -> None:
    page = Recorder()
    feed.subscribe(1, page, LAPTOP)
    feed.greet(page, used(3))
    snapshot = feed.snapshot()  # the poll starts; its read sees 3 used...
    feed.publish(1, used(4))  # ...while a spend on this process pushes 4
    feed.apply(snapshot, {1: live(3, LAPTOP)})
    assert page.sent == [3, 4]
    feed.apply(feed.snapshot(), {1: live(5, LAPTOP)})  # the next poll goes on as usual
    assert page.sent == [3, 4, 5]


def test_pages_of_ended_sessions_are_closed_with_1008(feed: CreditsFeed) -> None:
    laptop, phone, other = Recorder(), Recorder(), Recorder()
    feed.subscribe(1, laptop, LAPTOP)
    feed.subscribe(1, phone, PHONE)
    feed.subscribe(2, other, b"o" * 32)
    feed.apply(feed.snapshot(), {1: live(0, PHONE)})  # user 2 is gone altogether
    assert laptop.closed == (CloseCode.POLICY_VIOLATION, SESSION_ENDED)
    assert other.closed == (CloseCode.POLICY_VIOLATION, SESSION_ENDED)
    assert phone.closed is None and phone.sent == [0]


def test_a_page_opened_during_the_read_is_left_for_the_next_poll(feed: CreditsFeed) -> None:
    old, new = Recorder(), Recorder()
    feed.subscribe(1, old, LAPTOP)
    snapshot = feed.snapshot()
    feed.subscribe(1, new, PHONE)  # signed in after the read had looked at sessions
    feed.apply(snapshot, {1: live(2, LAPTOP)})
    assert (old.sent, new.sent, new.closed) == ([2], [], None)


def test_greeting_skips_a_page_a_spend_reached_first(feed: CreditsFeed) -> None:
    page = Recorder()
    feed.subscribe(1, page, LAPTOP)
    feed.publish(1, used(6))  # between the subscription and the greeting's read
    feed.greet(page, used(5))
    assert page.sent == [6]


def test_bounds_and_unsubscribing(feed: CreditsFeed) -> None:
    pages = [Recorder() for _ in range(4)]
    assert feed.subscribe(1, pages[0], LAPTOP) and feed.subscribe(1, pages[1], LAPTOP)
    assert not feed.subscribe(1, pages[2], LAPTOP)  # per user
    assert feed.subscribe(2, pages[2], PHONE)
    assert not feed.subscribe(3, pages[3], PHONE)  # in all
    feed.unsubscribe(pages[0])
    feed.unsubscribe(pages[0])  # twice is harmless
    assert feed.count(1) == 1 and feed.subscribe(3, pages[3], PHONE)
    for page in pages[1:]:
        feed.unsubscribe(page)
    assert not feed.is_watched and feed.snapshot().pages == ()


# The poll thread.


class FlakyStorage(SQLiteStorage):
    """The real SQLite storage, whose poll reads can be made to fail; it counts them."""

    is_down = False
    reads = 0

    def get_live_usage(self, user_ids: Collection[int], now: float) -> dict[int, LiveUsage]:
        self.reads += 1
        if self.is_down:
            raise StorageUnavailable("database down (test)")
        return super().get_live_usage(user_ids, now)


@pytest.fixture
def flaky(db_path: Path) -> Iterator[FlakyStorage]:
    opened = FlakyStorage(db_path)
    yield opened
    opened.close()


@pytest.fixture
def poller(feed: CreditsFeed, flaky: FlakyStorage, clock: FakeClock) -> Iterator[CreditsPoller]:
    started = CreditsPoller(feed, flaky, interval_s=0.01, clock=clock)
    yield started
    started.stop()


def signed_in_user(storage: SQLiteStorage, clock: FakeClock) -> tuple[int, bytes]:
    user = storage.create_user(
        username="poll", email="poll@example.com", password_hash="x", credits_limit=100,
        created_at=clock(),
    )  # fmt: skip
    session = Session(
        token_hash=LAPTOP, user_id=user.id, csrf_token="c", created_at=clock(),
        expires_at=clock() + 60,
    )  # fmt: skip
    storage.create_session(session)
    return user.id, LAPTOP


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10.0
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def poll_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "barehttp-live-credits"]


def test_the_thread_starts_with_a_page_and_ends_with_the_last(
    feed: CreditsFeed, poller: CreditsPoller, flaky: FlakyStorage, clock: FakeClock
) -> None:
    user_id, token_hash = signed_in_user(flaky, clock)
    assert poller.state is PollerState.IDLE and poll_threads() == []
    page = Recorder()
    feed.subscribe(user_id, page, token_hash)
    poller.watch()
    poller.watch()  # one thread, however many pages
    assert poller.state is PollerState.POLLING and len(poll_threads()) == 1
    wait_until(lambda: page.sent == [0])
    flaky.spend_credits(user_id, 3)
    wait_until(lambda: page.sent == [0, 3])
    feed.unsubscribe(page)
    wait_until(lambda: poller.state is PollerState.IDLE and poll_threads() == [])
    reads = flaky.reads
    feed.subscribe(user_id, page, token_hash)  # the next page starts it again
    poller.watch()
    wait_until(lambda: flaky.reads > reads)


def test_stop_ends_the_thread_and_it_never_restarts(
    feed: CreditsFeed, poller: CreditsPoller
) -> None:
    feed.subscribe(1, Recorder(), LAPTOP)
    poller.watch()
    poller.stop()
    assert poller.state is PollerState.STOPPED and poll_threads() == []
    poller.watch()
    assert poller.state is PollerState.STOPPED and poll_threads() == []


def test_a_failing_read_is_logged_once_and_retried(
    feed: CreditsFeed,
    poller: CreditsPoller,
    flaky: FlakyStorage,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user_id, token_hash = signed_in_user(flaky, clock)
    page = Recorder()
    feed.subscribe(user_id, page, token_hash)
    flaky.is_down = True
    with caplog.at_level(logging.INFO, logger="barehttp.app"):
        poller.watch()
        wait_until(lambda: flaky.reads >= 3)
        flaky.is_down = False
        wait_until(lambda: page.sent == [0])  # back: the page is served again
        # Logged by the poll thread after that poll's sends: wait for it too.
        again = "reading the watched users again"
        wait_until(lambda: any(again in record.getMessage() for record in caplog.records))
    messages = [record.getMessage() for record in caplog.records]
    assert sum("cannot read the watched users" in message for message in messages) == 1
    assert sum("reading the watched users again" in message for message in messages) == 1
    assert page.closed is None  # an outage is not a session ending


def test_the_interval_must_be_positive(feed: CreditsFeed, flaky: FlakyStorage) -> None:
    for interval_s in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="interval_s"):
            CreditsPoller(feed, flaky, interval_s=interval_s)
