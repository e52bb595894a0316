"""Live credits beyond this process: the poll brings changes made elsewhere and ends pages.

What another worker process or instance does lands in the database only; these
tests make such changes directly in the storage the app uses (exactly what the
other process's statement does), with a hand-driven app clock for expiry.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from barehttp.app.passwords import ScryptParams
from barehttp.app.sessions import hash_token
from barehttp.app.settings import AccountSettings
from barehttp.storage.base import LiveUsage
from barehttp.storage.sqlite import SQLiteStorage
from tests.app.conftest import FakeClock
from tests.integration.accounts_site import (
    Site,
    new_client,
    running_site,
    session_cookie_in,
    sign_in,
    sign_up,
    spend,
)
from tests.integration.test_accounts_app_live import TIMEOUT_S, open_feed, usage

LIFETIME_S = 600.0
POLL_S = 0.05
POLL_THREAD = "barehttp-live-credits"
SETTINGS = AccountSettings(
    scrypt=ScryptParams(n=2, r=1, p=1),
    session_lifetime_s=LIFETIME_S,
    live_credits_poll_s=POLL_S,
)


class CountingStorage(SQLiteStorage):
    """The real SQLite storage, counting the poll's reads so a test can wait for them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.polls = 0
        self.changed = threading.Condition()

    def get_live_usage(self, user_ids: Collection[int], now: float) -> dict[int, LiveUsage]:
        found = super().get_live_usage(user_ids, now)
        with self.changed:
            self.polls += 1
            self.changed.notify_all()
        return found

    def wait_for_polls(self, count: int) -> None:
        """Until `count` more polls have read the database."""
        with self.changed:
            target = self.polls + count
            assert self.changed.wait_for(lambda: self.polls >= target, TIMEOUT_S)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def storage(tmp_path: Path) -> CountingStorage:
    return CountingStorage(tmp_path / "app.db")


@pytest.fixture
def site(tmp_path: Path, clock: FakeClock, storage: CountingStorage) -> Iterator[Site]:
    with running_site(
        tmp_path / "app.db", settings=SETTINGS, clock=clock, storage=storage
    ) as running:
        yield running


def user_id(site: Site, username: str) -> int:
    user = site.storage.find_user(username)
    assert user is not None
    return user.id


def poll_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == POLL_THREAD]


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_spends_made_elsewhere_reach_the_page_once_each(
    site: Site, storage: CountingStorage
) -> None:
    client = new_client(site)
    token = session_cookie_in(sign_up(client, "wren"))
    wren = user_id(site, "wren")
    with open_feed(site, token) as page:
        assert usage(page)["used"] == 0
        site.storage.spend_credits(wren, 5)  # another worker process or instance
        assert usage(page) == {"used": 5, "limit": 100, "remaining": 95}
        site.storage.set_credits_limit("wren", 40)  # `barehttp users set-limit`
        assert usage(page) == {"used": 5, "limit": 40, "remaining": 35}
        # Polls that find nothing new send nothing: after several, the next
        # message is the next spend's, not a repeat of the last counter.
        storage.wait_for_polls(3)
        assert spend(client, 2).status_code == 200  # this process: pushed at once
        assert usage(page)["used"] == 7
        storage.wait_for_polls(3)
        site.storage.spend_credits(wren, 1)
        assert usage(page)["used"] == 8


def test_an_expired_session_closes_its_page_with_1008(site: Site, clock: FakeClock) -> None:
    client = new_client(site)
    token = session_cookie_in(sign_up(client, "xena"))
    with open_feed(site, token) as page:
        assert usage(page)["used"] == 0
        clock.advance(LIFETIME_S)  # expires_at is the first instant it is refused
        with pytest.raises(ConnectionClosed) as closed:
            page.recv(TIMEOUT_S)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "session ended")


def test_a_session_removed_elsewhere_closes_only_its_pages(site: Site) -> None:
    laptop = new_client(site)
    laptop_token = session_cookie_in(sign_up(laptop, "yuki"))
    phone = new_client(site)
    phone_token = session_cookie_in(sign_in(phone, "yuki"))
    with open_feed(site, laptop_token) as ended, open_feed(site, phone_token) as still_in:
        usage(ended)
        usage(still_in)
        laptop_hash = hash_token(laptop_token)
        assert laptop_hash is not None
        assert site.storage.delete_session(laptop_hash)  # a sign-out handled elsewhere
        with pytest.raises(ConnectionClosed) as closed:
            ended.recv(TIMEOUT_S)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert spend(phone).status_code == 200
        assert usage(still_in)["used"] == 1
        site.storage.delete_user_sessions(user_id(site, "yuki"))  # e.g. all sessions ended
        with pytest.raises(ConnectionClosed) as closed:
            still_in.recv(TIMEOUT_S)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


def test_one_poll_thread_runs_only_while_pages_are_open(
    site: Site, storage: CountingStorage
) -> None:
    client = new_client(site)
    token = session_cookie_in(sign_up(client, "zoe"))
    assert poll_threads() == []
    with open_feed(site, token) as first, open_feed(site, token) as second:
        usage(first)
        usage(second)
        storage.wait_for_polls(1)
        assert len(poll_threads()) == 1  # one per process, not one per page
    wait_until(lambda: poll_threads() == [])  # the last page closed: no thread, no query
    polls = storage.polls
    with open_feed(site, token) as again:  # and it comes back with the next page
        usage(again)
        storage.wait_for_polls(1)
        assert storage.polls > polls


def test_shutdown_stops_the_poll(tmp_path: Path, clock: FakeClock) -> None:
    storage = CountingStorage(tmp_path / "app.db")
    with contextlib.ExitStack() as pages:  # closed after the server stopped
        with running_site(
            tmp_path / "app.db", settings=SETTINGS, clock=clock, storage=storage
        ) as site:
            client = new_client(site)
            token = session_cookie_in(sign_up(client, "abe"))
            page = pages.enter_context(open_feed(site, token))
            usage(page)
            storage.wait_for_polls(1)
            assert len(poll_threads()) == 1
        assert poll_threads() == []  # stopped (joined) before the storage closed
