"""A real browser (Debian's Chromium, driven by Playwright) clicks through the accounts app."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect, sync_playwright

from tests.browser.conftest import STEP_TIMEOUT_MS
from tests.integration.accounts_site import PASSWORD, Site, running_site

CHROMIUM = "/usr/bin/chromium"  # installed by `make system-deps`; no Playwright download
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"  # gitignored
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"  # committed, shown in the README
# The README's copies are refreshed only on request, so a test run leaves the tree clean.
UPDATE_DOCS = os.environ.get("BAREHTTP_UPDATE_SCREENSHOTS") == "1"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: run `make system-deps`"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_site(tmp_path / "app.db") as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 720})
    opened = context.new_page()
    opened.set_default_timeout(STEP_TIMEOUT_MS)
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1_000
    if UPDATE_DOCS:
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)


def test_sign_up_sign_in_spend_and_sign_out_by_clicking(site: Site, page: Page) -> None:
    problems: list[str] = []  # CSP violations, failed loads, script errors

    def note(message: ConsoleMessage) -> None:
        # The re-rendered forms answer 422 on purpose; Chromium logs every non-2xx load.
        if message.type == "error" and "status of 422" not in message.text:
            problems.append(message.text)

    page.on("console", note)
    page.on("pageerror", lambda error: problems.append(str(error)))

    # The landing page for visitors.
    page.goto(site.url + "/")
    expect(page.locator("h1")).to_have_text("Metered requests, made simple")
    expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/favicon.ico")
    assert page.evaluate("document.querySelector('.brand img').naturalWidth") == 64
    screenshot(page, "home")

    # Sign up: first with a weak password, so the form shows what is wrong.
    page.get_by_role("link", name="Sign up").first.click()
    expect(page).to_have_url(site.url + "/signup")
    page.get_by_label("Username").fill("tina")
    page.get_by_label("Email").fill("tina@example.com")
    page.get_by_label("Password").fill("weakpass")
    page.locator("#signup-submit").click()
    expect(page.locator("#password-errors")).to_contain_text("Password needs at least one digit.")
    expect(page.locator("#password-errors")).to_contain_text("at least one symbol")
    expect(page.get_by_label("Username")).to_have_value("tina")  # kept
    expect(page.get_by_label("Email")).to_have_value("tina@example.com")
    expect(page.get_by_label("Password")).to_have_value("")  # never sent back
    screenshot(page, "signup")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#signup-submit").click()

    # Signed in at once, greeted by name.
    expect(page).to_have_url(site.url + "/")
    expect(page.locator("#greeting")).to_have_text("Hello, tina!")
    expect(page.locator(".meter")).to_contain_text("0 of 100 credits used")
    assert page.evaluate("document.cookie") == ""  # session and csrf cookies are HttpOnly

    # Sign out, then sign in again through the form.
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("h1")).to_have_text("Metered requests, made simple")
    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("Username").fill("tina")
    page.get_by_label("Password").fill("wr0ng!pass")
    page.locator("#signin-submit").click()
    expect(page.locator("#form-error")).to_have_text("wrong password")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#signin-submit").click()
    expect(page.locator("#greeting")).to_have_text("Hello, tina!")

    # Spend through the JSON API (the button's script calls POST /api/requests).
    for expected in ("1", "2", "3"):
        page.get_by_role("button", name="Spend 1 credit").click()
        expect(page.locator("#used")).to_have_text(expected)
    expect(page.locator("#spend-result")).to_have_text("Spent 1 credit.")
    expect(page.locator("#remaining")).to_have_text("97")
    page.reload()
    expect(page.locator(".meter")).to_contain_text("3 of 100 credits used")
    screenshot(page, "signed-in")
    user = site.storage.find_user("tina")
    assert user is not None and user.credits_used == 3

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#greeting")).to_have_count(0)
    assert not [c for c in page.context.cookies() if c["name"] == "session"]
    assert problems == []


def test_quota_exceeded_is_shown_on_the_page(site: Site, page: Page) -> None:
    from barehttp.app.admin import set_limit

    page.goto(site.url + "/signup")
    page.get_by_label("Username").fill("uma")
    page.get_by_label("Email").fill("uma@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#signup-submit").click()
    expect(page.locator("#greeting")).to_have_text("Hello, uma!")
    set_limit(site.storage, "uma", 1)
    page.get_by_role("button", name="Spend 1 credit").click()
    expect(page.locator("#used")).to_have_text("1")
    page.get_by_role("button", name="Spend 1 credit").click()
    expect(page.locator("#spend-result")).to_have_text("Quota exceeded: no credits left.")
    expect(page.locator("#used")).to_have_text("1")


def test_unknown_page_is_friendly(site: Site, page: Page) -> None:
    response = page.goto(site.url + "/nowhere")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Page not found")
    page.get_by_role("link", name="Back to the home page").click()
    expect(page).to_have_url(site.url + "/")


# -- the usage meter: a native <meter>, named, kept current, readable without CSS --


def sign_up_in_page(page: Page, site: Site, username: str) -> None:
    page.goto(site.url + "/signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("#signup-submit").click()
    expect(page.locator("#greeting")).to_have_text(f"Hello, {username}!")


def test_meter_shows_usage_accessibly_and_follows_spending(site: Site, page: Page) -> None:
    sign_up_in_page(page, site, "vera")
    meter = page.get_by_role("meter", name="Credits used")
    expect(meter).to_be_visible()
    expect(meter).to_have_accessible_name("Credits used")
    expect(meter).to_have_attribute("aria-valuetext", "0 of 100 credits used")
    assert meter.evaluate("m => [m.min, m.max, m.value]") == [0, 100, 0]

    for _ in range(3):
        page.get_by_role("button", name="Spend 1 credit").click()
    expect(page.locator("#used")).to_have_text("3")
    expect(meter).to_have_attribute("aria-valuetext", "3 of 100 credits used")
    assert meter.evaluate("m => m.value") == 3
    page.reload()  # the server draws the same meter
    expect(meter).to_have_attribute("aria-valuetext", "3 of 100 credits used")
    assert meter.evaluate("m => [m.max, m.value, m.low, m.high]") == [100, 3, 50, 90]


def test_meter_is_readable_without_css(site: Site, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 900, "height": 720})
    try:
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)

        def refuse_stylesheets(route: Route) -> None:
            route.abort()

        page.route("**/*.css", refuse_stylesheets)
        sign_up_in_page(page, site, "walt")
        page.get_by_role("button", name="Spend 1 credit").click()
        expect(page.locator("#used")).to_have_text("1")
        assert page.evaluate("getComputedStyle(document.body).marginTop") == "8px"  # no CSS
        meter = page.get_by_role("meter", name="Credits used")
        box = meter.bounding_box()
        assert box is not None and box["width"] >= 40 and box["height"] >= 8  # a bar, drawn
        expect(page.locator(".meter")).to_have_text("1 of 100 credits used (99 left)")
        expect(page.locator("label[for=usage-meter]")).to_be_visible()
    finally:
        context.close()
