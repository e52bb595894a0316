"""Helpers for the accounts app tests: an in-process server and form-filling clients."""

from __future__ import annotations

import html
import re
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from barehttp.app.clock import Clock, system_clock
from barehttp.app.passwords import ScryptParams
from barehttp.app.settings import AccountSettings
from barehttp.app.web_app import create_app
from barehttp.protocol.limits import Limits
from barehttp.server.server import Server
from barehttp.storage.base import Storage
from barehttp.storage.sqlite import SQLiteStorage

# Cheapest valid scrypt: these tests check HTTP behaviour, not hashing cost.
FAST_SETTINGS = AccountSettings(scrypt=ScryptParams(n=2, r=1, p=1), default_credits_limit=100)
PASSWORD = "s3cret!pw"
TIMEOUT_S = 10.0
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')
_SESSION_COOKIE = re.compile(r"^(?:__Host-)?session=([0-9a-f]{64});")


@dataclass
class Site:
    """A running app: its base URL, its storage (for admin actions) and its server."""

    url: str
    storage: Storage
    server: Server
    db_path: Path


@contextmanager
def running_site(
    db_path: Path,
    *,
    settings: AccountSettings = FAST_SETTINGS,
    ssl_context: ssl.SSLContext | None = None,
    clock: Clock = system_clock,
    limits: Limits | None = None,
    postgres_url: str | None = None,
    storage: Storage | None = None,
) -> Iterator[Site]:
    """`create_app` on a fresh server bound to a free port of 127.0.0.1.

    The app stores in SQLite at `db_path`, or in PostgreSQL when `postgres_url` is
    given, or in `storage` (opened by the caller; closed here).
    """
    if storage is None and postgres_url is not None:
        from barehttp.storage.postgres import PostgresStorage

        storage = PostgresStorage(postgres_url)
    elif storage is None:
        storage = SQLiteStorage(db_path)
    app_shutdown: list[Callable[[], None]] = []
    server = Server(
        create_app(storage, settings, clock=clock, on_shutdown=app_shutdown),
        host="127.0.0.1",
        port=0,
        limits=limits,
        access_log=False,
        ssl_context=ssl_context,
    )
    server.start()
    scheme = "https" if ssl_context else "http"
    try:
        yield Site(f"{scheme}://127.0.0.1:{server.addresses[0][1]}", storage, server, db_path)
    finally:
        server.shutdown(timeout=5.0)
        for step in app_shutdown:  # the live credits poll stops
            step()
        storage.close()


def new_client(
    site: Site,
    *,
    local_address: str | None = None,
    verify: ssl.SSLContext | bool = True,
    cookies: dict[str, str] | None = None,
) -> httpx.Client:
    """A client with its own cookie jar; `local_address` picks the source IP (127.0.0.x)."""
    transport = httpx.HTTPTransport(local_address=local_address, verify=verify)
    return httpx.Client(
        base_url=site.url, timeout=TIMEOUT_S, transport=transport, verify=verify, cookies=cookies
    )


def csrf_token_in(page: str) -> str:
    """The hidden CSRF field's value in an HTML page."""
    match = _CSRF_FIELD.search(page)
    assert match is not None, "no csrf_token field in the page"
    return html.unescape(match.group(1))


def session_cookie_in(response: httpx.Response) -> str:
    """The 64-hex session token the response sets."""
    for field in response.headers.get_list("set-cookie"):
        match = _SESSION_COOKIE.match(field)
        if match:
            return match.group(1)
    raise AssertionError(f"no session cookie set: {response.headers.get_list('set-cookie')}")


def sign_up(
    client: httpx.Client, username: str, email: str | None = None, password: str = PASSWORD
) -> httpx.Response:
    """GET the form (for its CSRF cookie and field), then POST it; redirects not followed."""
    token = csrf_token_in(client.get("/signup").text)
    return client.post(
        "/signup",
        data={
            "csrf_token": token,
            "username": username,
            "email": email if email is not None else f"{username.lower()}@example.com",
            "password": password,
        },
    )


def sign_in(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    token = csrf_token_in(client.get("/signin").text)
    return client.post(
        "/signin", data={"csrf_token": token, "username": username, "password": password}
    )


def sign_out(client: httpx.Client) -> httpx.Response:
    token = csrf_token_in(client.get("/").text)  # the session's token, from the nav form
    return client.post("/signout", data={"csrf_token": token})


def spend(client: httpx.Client, cost: int | None = None) -> httpx.Response:
    return client.post("/api/requests", json={} if cost is None else {"cost": cost})


def main_text(page: str) -> str:
    """The <main> element's text with tags dropped and spaces collapsed."""
    inside = page.split("<main>", 1)[1].split("</main>", 1)[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", inside)).split())
