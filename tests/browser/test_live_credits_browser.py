"""Live credits in Chromium: the home page's meter follows spends made elsewhere, without reload."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from barehttp.server.server import Server
from barehttp.web.app import App
from barehttp.web.response import HTMLResponse
from tests.browser.conftest import STEP_TIMEOUT_MS
from tests.browser.test_accounts_browser import browser, sign_up_in_page
from tests.integration.accounts_site import Site, new_client, running_site

__all__ = ["browser"]  # the module's Chromium, shared with the other browser tests

# Opens /ws/credits from whatever page runs it; resolves with what happened: closed
# after the first message, or when refused, or after 20 s at most.
PROBE = """url => new Promise(resolve => {
  const socket = new WebSocket(url);
  const seen = [];
  socket.onopen = () => seen.push("open");
  socket.onmessage = event => { seen.push(event.data); socket.close(); };
  socket.onclose = event => resolve({seen, code: event.code});
  setTimeout(() => { socket.close(); }, 20000);
})"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_site(tmp_path / "app.db") as running:
        yield running


@contextlib.contextmanager
def other_site() -> Iterator[str]:
    """Another origin on the same host (another port): a page of "another site"."""
    app = App()
    app.add_route("GET", "/", lambda request: HTMLResponse("<p>another site</p>"))
    server = Server(app, port=0, access_log=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.addresses[0][1]}/"
    finally:
        server.shutdown(timeout=2.0)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    opened = browser.new_context(viewport={"width": 900, "height": 720})
    yield opened
    opened.close()


def new_page(context: BrowserContext) -> Page:
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    return page


def test_credits_update_live_from_another_page_and_an_api_client(
    site: Site, context: BrowserContext, browser: Browser
) -> None:
    watcher = new_page(context)
    sign_up_in_page(watcher, site, "xena")
    expect(watcher.locator("body")).to_have_attribute("data-live-credits", "on")
    expect(watcher.locator("#used")).to_have_text("0")

    # Another tab of the same user spends through the page's button (the JSON API).
    spender = new_page(context)
    spender.goto(site.url + "/")
    spender.get_by_role("button", name="Spend 1 credit").click()
    expect(spender.locator("#used")).to_have_text("1")
    expect(watcher.locator("#used")).to_have_text("1")  # pushed: the watcher never reloaded
    expect(watcher.locator("#remaining")).to_have_text("99")
    meter = watcher.get_by_role("meter", name="Credits used")
    expect(meter).to_have_attribute("aria-valuetext", "1 of 100 credits used")

    # An API client with the user's session cookie.
    cookies = {c["name"]: c["value"] for c in context.cookies() if c["name"] == "session"}
    with new_client(site, cookies=cookies) as client:
        assert client.post("/api/requests", json={"cost": 4}).status_code == 200
    expect(watcher.locator("#used")).to_have_text("5")
    expect(spender.locator("#used")).to_have_text("5")

    # A page without JavaScript posts the form (/spend): the server renders the meter.
    no_script = browser.new_context(java_script_enabled=False)
    try:
        no_script.add_cookies(context.cookies())
        plain = new_page(no_script)
        plain.goto(site.url + "/")
        expect(plain.locator("#used")).to_have_text("5")
        plain.get_by_role("button", name="Spend 1 credit").click()
        expect(plain.locator("#used")).to_have_text("6")
        expect(plain.locator("body")).not_to_have_attribute("data-live-credits", "on")
    finally:
        no_script.close()
    expect(watcher.locator("#used")).to_have_text("6")
    expect(meter).to_have_attribute("aria-valuetext", "6 of 100 credits used")


def test_changes_made_by_another_process_reach_the_meter_until_the_session_ends(
    site: Site, context: BrowserContext
) -> None:
    watcher = new_page(context)
    sign_up_in_page(watcher, site, "wanda")
    expect(watcher.locator("body")).to_have_attribute("data-live-credits", "on")
    expect(watcher.locator("#used")).to_have_text("0")
    user = site.storage.find_user("wanda")
    assert user is not None
    # What another worker process or instance does reaches only the database.
    site.storage.spend_credits(user.id, 7)
    expect(watcher.locator("#used")).to_have_text("7")  # through the poll, no reload
    expect(watcher.locator("#remaining")).to_have_text("93")
    assert site.storage.delete_user_sessions(user.id) == 1  # signed out elsewhere
    expect(watcher.locator("body")).to_have_attribute("data-live-credits", "off")


def test_another_sites_page_and_a_visitor_are_refused(
    site: Site, context: BrowserContext, caplog: pytest.LogCaptureFixture
) -> None:
    page = new_page(context)
    sign_up_in_page(page, site, "yuri")
    ws_url = site.url.replace("http://", "ws://") + "/ws/credits"
    own = page.evaluate(PROBE, ws_url)  # the control: the site's own page is let in
    assert own["seen"][0] == "open" and '"used": 0' in own["seen"][1]

    # Another origin on the same host: same-site, so the browser sends the Lax session
    # cookie with the handshake; only the Origin check stands in the way.
    with other_site() as evil_url:
        page.goto(evil_url)
        with caplog.at_level(logging.INFO, logger="barehttp.app"):
            hijack = page.evaluate(PROBE, ws_url)
    assert hijack["seen"] == [] and hijack["code"] == 1006  # refused: the handshake got 403
    assert f"live credits refused: Origin '{evil_url.removesuffix('/')}'" in caplog.text

    # A visitor (no session) on the site's own page.
    visitor = new_page(context)
    context.clear_cookies()
    visitor.goto(site.url + "/")
    expect(visitor.locator("#usage-meter")).to_have_count(0)  # nothing live to show
    anonymous = visitor.evaluate(PROBE, ws_url)
    assert anonymous["seen"] == [] and anonymous["code"] == 1006
