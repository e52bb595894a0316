"""Live credits of the accounts app (/ws/credits) with real clients: websockets and httpx."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from barehttp.app.passwords import ScryptParams
from barehttp.app.settings import AccountSettings
from tests.integration.accounts_site import (
    Site,
    csrf_token_in,
    new_client,
    running_site,
    session_cookie_in,
    sign_in,
    sign_up,
    spend,
)

TIMEOUT_S = 10.0
POLL_THREAD = "barehttp-live-credits"  # runs while any page is open
SETTINGS = AccountSettings(scrypt=ScryptParams(n=2, r=1, p=1), max_live_pages_per_user=2)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_site(tmp_path / "app.db", settings=SETTINGS) as running:
        yield running


def ws_url(site: Site) -> str:
    return site.url.replace("http://", "ws://") + "/ws/credits"


def open_feed(site: Site, token: str, origin: str | None = None) -> ClientConnection:
    headers = {"Cookie": f"session={token}"}
    return connect(
        ws_url(site),
        additional_headers=headers,
        origin=Origin(origin or site.url),
        open_timeout=TIMEOUT_S,
    )


def usage(websocket: ClientConnection) -> dict[str, int]:
    data = websocket.recv(TIMEOUT_S)
    assert isinstance(data, str)
    message: dict[str, int] = json.loads(data)
    return message


def test_spends_from_the_api_and_the_form_are_pushed_to_every_page_of_the_user(
    site: Site,
) -> None:
    client = new_client(site)
    token = session_cookie_in(sign_up(client, "lena"))
    other = new_client(site)
    sign_up(other, "omar")
    with open_feed(site, token) as first, open_feed(site, token) as second:
        assert usage(first) == {"used": 0, "limit": 100, "remaining": 100}
        assert usage(second)["used"] == 0
        assert spend(client, 3).status_code == 200  # the JSON API
        assert usage(first) == {"used": 3, "limit": 100, "remaining": 97}
        assert usage(second)["used"] == 3
        form_token = csrf_token_in(client.get("/").text)
        assert client.post("/spend", data={"csrf_token": form_token}).status_code == 303
        assert usage(first)["used"] == 4
        assert usage(second)["used"] == 4
        assert spend(other, 5).status_code == 200  # another user: nothing for lena
        assert spend(client).status_code == 200
        assert usage(first)["used"] == 5  # the next message is lena's own, not omar's


def test_anonymous_is_refused_with_403(site: Site) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(site), origin=Origin(site.url), open_timeout=TIMEOUT_S)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        open_feed(site, "0" * 64)  # an unknown session
    assert refused.value.response.status_code == 403


def test_another_origin_is_refused_with_403(site: Site) -> None:
    client = new_client(site)
    token = session_cookie_in(sign_up(client, "pia"))
    with pytest.raises(InvalidStatus) as refused:
        open_feed(site, token, origin="http://evil.example")
    assert refused.value.response.status_code == 403
    with open_feed(site, token) as websocket:  # the same cookie from this site's page works
        assert usage(websocket)["used"] == 0


def test_pages_beyond_the_per_user_bound_are_closed_with_1013(site: Site) -> None:
    client = new_client(site)
    token = session_cookie_in(sign_up(client, "quinn"))
    with open_feed(site, token) as first, open_feed(site, token) as second:
        usage(first)
        usage(second)
        with open_feed(site, token) as third, pytest.raises(ConnectionClosed) as closed:
            third.recv(TIMEOUT_S)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    # Closed pages leave the feed in on_close, which the pool runs after the close
    # handshake; once none is left, the poll thread ends. Then two new ones fit again.
    deadline = time.monotonic() + TIMEOUT_S
    while any(thread.name == POLL_THREAD for thread in threading.enumerate()):
        assert time.monotonic() < deadline, "closed pages never left the feed"
        time.sleep(0.01)
    with open_feed(site, token) as first, open_feed(site, token) as second:
        assert usage(first)["used"] == 0 and usage(second)["used"] == 0


def test_signing_out_closes_that_sessions_pages_only(site: Site) -> None:
    laptop = new_client(site)
    token = session_cookie_in(sign_up(laptop, "rosa"))
    phone = new_client(site)
    other_token = session_cookie_in(sign_in(phone, "rosa"))
    with open_feed(site, token) as signed_out, open_feed(site, other_token) as still_in:
        usage(signed_out)
        usage(still_in)
        response = laptop.post("/api/signout", json={})
        assert response.json()["signed_out"] is True
        with pytest.raises(ConnectionClosed) as closed:
            signed_out.recv(TIMEOUT_S)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert spend(phone).status_code == 200
        assert usage(still_in)["used"] == 1  # the other session's page lives on
