"""The accounts app over real HTTP: pages, forms, sessions, CSRF, lockout, API, errors."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from barehttp.app import api as api_module
from barehttp.app.admin import set_limit
from barehttp.app.settings import AccountSettings
from tests.app.conftest import FakeClock
from tests.integration.accounts_site import (
    FAST_SETTINGS,
    PASSWORD,
    Site,
    csrf_token_in,
    main_text,
    new_client,
    running_site,
    session_cookie_in,
    sign_in,
    sign_out,
    sign_up,
    spend,
)


@pytest.fixture(params=["sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    """The app on each backend: every feature must work the same on both."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with running_site(tmp_path / "app.db", postgres_url=url) as running:
        yield running


@pytest.fixture
def client(site: Site) -> Iterator[httpx.Client]:
    with new_client(site) as opened:
        yield opened


# -- the whole journey -------------------------------------------------------------


def test_sign_up_sign_in_spend_usage_sign_out(site: Site, client: httpx.Client) -> None:
    home = client.get("/")
    assert home.status_code == 200
    assert "Sign up" in home.text and "Hello," not in home.text

    created = sign_up(client, "Alice")
    assert created.status_code == 303 and created.headers["location"] == "/"
    first_token = session_cookie_in(created)
    greeted = main_text(client.get("/").text)
    assert "Hello, Alice!" in greeted and "0 of 100 credits used" in greeted

    assert sign_out(client).status_code == 303
    assert "Hello," not in client.get("/").text
    assert client.get("/api/usage").status_code == 401

    signed_in = sign_in(client, "alice")  # usernames ignore case
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    assert session_cookie_in(signed_in) != first_token  # a new token every sign-in

    spent = spend(client, 3)
    assert spent.status_code == 200
    assert spent.json() == {"ok": True, "used": 3, "limit": 100, "remaining": 97}
    assert spend(client).json()["used"] == 4  # default cost 1
    assert client.post("/api/requests").status_code == 415  # no JSON type: refused
    assert client.get("/api/usage").json() == {"ok": True, "used": 4, "limit": 100, "remaining": 96}
    assert "4 of 100 credits used" in main_text(client.get("/").text)

    assert sign_out(client).status_code == 303
    assert spend(client).json()["error"] == "not_signed_in"
    assert site.storage.find_user("alice").credits_used == 4  # type: ignore[union-attr]


def test_spend_form_on_the_home_page_without_javascript(site: Site, client: httpx.Client) -> None:
    sign_up(client, "bob")
    token = csrf_token_in(client.get("/").text)
    answer = client.post("/spend", data={"csrf_token": token})
    assert answer.status_code == 303
    assert "1 of 100 credits used" in main_text(client.get("/").text)
    set_limit(site.storage, "bob", 1)
    refused = client.post("/spend", data={"csrf_token": token})
    assert refused.status_code == 402
    assert "not enough credits" in main_text(refused.text)


# -- sign-up validation ----------------------------------------------------------------

VALIDATION_CASES = [
    ("", "a@example.com", "s3cret!pw", {"username": ["Username is required."]}),
    (
        "ab",
        "a@example.com",
        "s3cret!pw",
        {"username": ["Username must be 3 to 32 characters long."]},
    ),
    (
        "bad name!",
        "a@example.com",
        "s3cret!pw",
        {"username": ["Username may contain only letters, digits, '_', '.' and '-'."]},
    ),
    ("carol", "", "s3cret!pw", {"email": ["Email is required."]}),
    (
        "carol",
        "a" * 250 + "@x.io",
        "s3cret!pw",
        {"email": ["Email must be at most 254 characters long."]},
    ),
    ("carol", "a b@example.com", "s3cret!pw", {"email": ["Email must not contain spaces."]}),
    ("carol", "a@b@example.com", "s3cret!pw", {"email": ["Email must contain exactly one '@'."]}),
    ("carol", "@example.com", "s3cret!pw", {"email": ["Email needs a name before the '@'."]}),
    (
        "carol",
        "a@localhost",
        "s3cret!pw",
        {"email": ["Email needs a domain with a dot after the '@', like example.com."]},
    ),
    ("carol", "a@example.com", "", {"password": ["Password is required."]}),
    (
        "carol",
        "a@example.com",
        "s3!x",
        {"password": ["Password must be 8 to 128 characters long."]},
    ),
    ("carol", "a@example.com", "12345678!", {"password": ["Password needs at least one letter."]}),
    ("carol", "a@example.com", "abcdefgh!", {"password": ["Password needs at least one digit."]}),
    (
        "carol",
        "a@example.com",
        "abcdefgh1",
        {"password": ["Password needs at least one symbol, such as ! or #."]},
    ),
    (
        "x",
        "nope",
        "short",
        {
            "username": ["Username must be 3 to 32 characters long."],
            "email": [
                "Email must contain exactly one '@'.",
            ],
            "password": [
                "Password must be 8 to 128 characters long.",
                "Password needs at least one digit.",
                "Password needs at least one symbol, such as ! or #.",
            ],
        },
    ),
]


def field_errors(page: str, field: str) -> list[str]:
    """The messages listed in the form's error list for `field` (empty if none)."""
    marker = f'<ul class="errors" id="{field}-errors">'
    if marker not in page:
        return []
    inside = page.split(marker, 1)[1].split("</ul>", 1)[0]
    return [main_text(f"<main>{item}</main>") for item in inside.split("</li>") if item.strip()]


@pytest.mark.parametrize(
    ("username", "email", "password", "expected"),
    VALIDATION_CASES,
    ids=[
        "username-required",
        "username-length",
        "username-characters",
        "email-required",
        "email-length",
        "email-spaces",
        "email-two-ats",
        "email-no-name",
        "email-no-dot",
        "password-required",
        "password-length",
        "password-letter",
        "password-digit",
        "password-symbol",
        "several-at-once",
    ],
)
def test_each_broken_rule_is_shown_next_to_its_field(
    client: httpx.Client,
    site: Site,
    username: str,
    email: str,
    password: str,
    expected: dict[str, list[str]],
) -> None:
    answer = sign_up(client, username, email, password)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    for field in ("username", "email", "password"):
        assert field_errors(answer.text, field) == expected.get(field, [])
    # Values kept (escaped), the password never sent back.
    assert f'name="username" value="{username}"' in answer.text
    assert 'name="password" type="password" autocomplete="new-password"' in answer.text
    if password:
        assert password not in answer.text
    assert "session=" not in " ".join(answer.headers.get_list("set-cookie"))
    assert site.storage.list_users() == []


def test_duplicate_username_ignoring_case(client: httpx.Client, site: Site) -> None:
    assert sign_up(client, "Dave").status_code == 303
    with new_client(site) as other:
        answer = sign_up(other, "dAVE", "other@example.com")
    assert answer.status_code == 422
    assert field_errors(answer.text, "username") == ["That username is already taken."]
    assert 'value="other@example.com"' in answer.text
    assert [user.username for user in site.storage.list_users()] == ["Dave"]


def test_rendered_values_are_escaped(client: httpx.Client) -> None:
    hostile_email = '"><script>alert(1)</script>@example.com'
    answer = sign_up(client, "<script>", hostile_email, PASSWORD)
    assert answer.status_code == 422
    assert "<script>alert(1)" not in answer.text and '<script>"' not in answer.text
    assert 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com"' in answer.text
    assert 'name="username" value="&lt;script&gt;"' in answer.text
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


# -- sign-in ----------------------------------------------------------------------------


def test_sign_in_says_whether_the_username_or_the_password_was_wrong(
    client: httpx.Client, site: Site
) -> None:
    # The same policy as sign-up, which must say that a username is taken.
    sign_up(client, "erin")
    sign_out(client)
    wrong = sign_in(client, "erin", "wr0ng!pass")
    unknown = sign_in(client, "nobody", PASSWORD)
    assert "wrong password" in main_text(wrong.text)
    assert "no account has this username" in main_text(unknown.text)
    for answer in (wrong, unknown):
        assert answer.status_code == 422
        assert not any(f.startswith("session=") for f in answer.headers.get_list("set-cookie"))


def failed_sign_ins(site: Site, usernames: list[str], local_address: str) -> None:
    with new_client(site, local_address=local_address) as client:
        for username in usernames:
            assert sign_in(client, username, "wr0ng!pass").status_code == 422


def assert_locked(answer: httpx.Response) -> None:
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert "too many failed sign-ins" in main_text(answer.text)
    assert not any(f.startswith("session=") for f in answer.headers.get_list("set-cookie"))


def test_lockout_per_client_leaves_the_victim_in(site: Site, client: httpx.Client) -> None:
    sign_up(client, "fay")
    failed_sign_ins(site, ["fay"] * 5, "127.0.0.10")
    with new_client(site, local_address="127.0.0.10") as attacker:
        assert_locked(sign_in(attacker, "fay"))  # even the right password
        assert_locked(sign_in(attacker, "FAY"))
    with new_client(site, local_address="127.0.0.11") as victim:
        assert sign_in(victim, "fay").status_code == 303


def test_lockout_per_username_from_many_addresses(site: Site, client: httpx.Client) -> None:
    sign_up(client, "frank")
    # Each address stays under its own bound: only the username count adds up.
    per_username = FAST_SETTINGS.max_failed_sign_ins_per_username
    for index in range(per_username // 2):
        failed_sign_ins(site, ["frank"] * 2, f"127.0.1.{10 + index}")
    with new_client(site, local_address="127.0.2.20") as fresh:
        assert_locked(sign_in(fresh, "frank"))  # even the right password
        assert_locked(sign_in(fresh, "FRANK"))


def test_lockout_per_address_across_usernames(site: Site, client: httpx.Client) -> None:
    sign_up(client, "grace")
    per_address = FAST_SETTINGS.max_failed_sign_ins_per_address
    failed_sign_ins(site, [f"user{index}" for index in range(per_address)], "127.0.0.30")
    with new_client(site, local_address="127.0.0.30") as same_address:
        assert_locked(sign_in(same_address, "grace"))
    with new_client(site, local_address="127.0.0.31") as other_address:
        assert sign_in(other_address, "grace").status_code == 303


def test_four_failures_do_not_lock(site: Site, client: httpx.Client) -> None:
    sign_up(client, "heidi")
    failed_sign_ins(site, ["heidi"] * 4, "127.0.0.40")
    with new_client(site, local_address="127.0.0.40") as same_address:
        assert sign_in(same_address, "heidi").status_code == 303


# -- CSRF ------------------------------------------------------------------------------

FORMS = ["/signup", "/signin", "/signout", "/spend"]


@pytest.mark.parametrize("path", FORMS)
@pytest.mark.parametrize("token", [None, "wrong-token-" + "x" * 40], ids=["missing", "wrong"])
def test_forged_form_posts_are_refused(
    site: Site, client: httpx.Client, path: str, token: str | None
) -> None:
    sign_up(client, "ivan")
    client.get("/signin")  # the visitor csrf cookie is set too
    data = {"username": "mallory", "email": "m@example.com", "password": PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    answer = client.post(path, data=data)
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert "Forbidden" in answer.text
    # Nothing happened: no account, still signed in, nothing spent.
    assert [user.username for user in site.storage.list_users()] == ["ivan"]
    assert client.get("/api/usage").json()["used"] == 0


@pytest.mark.parametrize("path", FORMS)
def test_cross_origin_posts_are_refused_even_with_tokens(
    site: Site, client: httpx.Client, path: str
) -> None:
    sign_up(client, "judy")
    token = csrf_token_in(client.get("/").text)
    client.get("/signin")
    data = {"csrf_token": token, "username": "judy", "password": PASSWORD}
    answer = client.post(path, data=data, headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403
    assert client.get("/api/usage").json()["used"] == 0


def test_cross_site_form_cannot_spend_through_the_api(site: Site, client: httpx.Client) -> None:
    sign_up(client, "ken")
    # What a hostile page's <form enctype="text/plain"> or urlencoded form sends.
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        answer = client.post(
            "/api/requests", content=b'{"cost": 5}', headers={"Content-Type": content_type}
        )
        assert answer.status_code == 415
        assert answer.json()["error"] == "json_required"
    cross = client.post("/api/requests", json={}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert client.get("/api/usage").json()["used"] == 0


# -- sessions --------------------------------------------------------------------------


def test_session_cookie_attributes_over_http(site: Site, client: httpx.Client) -> None:
    with new_client(site) as visitor:
        csrf = next(
            f
            for f in visitor.get("/signin").headers.get_list("set-cookie")
            if f.startswith("csrf=")
        )
    assert "HttpOnly" in csrf and "SameSite=Lax" in csrf and "Secure" not in csrf
    answer = sign_up(client, "leo")
    field = next(f for f in answer.headers.get_list("set-cookie") if f.startswith("session="))
    parts = field.split("; ")
    assert len(parts[0]) == len("session=") + 64
    assert set(parts[1:]) == {"Max-Age=43200", "Path=/", "HttpOnly", "SameSite=Lax"}


def test_sign_out_invalidates_the_token_server_side(site: Site, client: httpx.Client) -> None:
    token = session_cookie_in(sign_up(client, "mallory"))
    sign_out(client)
    with new_client(site, cookies={"session": token}) as replay:
        assert replay.get("/api/usage").status_code == 401
        home = replay.get("/")
        assert "Hello," not in home.text
        # The stale cookie is cleared.
        assert any(f.startswith("session=;") for f in home.headers.get_list("set-cookie"))


def test_expired_session_is_refused(tmp_path: Path) -> None:
    clock = FakeClock()
    settings = AccountSettings(scrypt=FAST_SETTINGS.scrypt, session_lifetime_s=60.0)
    with running_site(tmp_path / "app.db", settings=settings, clock=clock) as site:
        with new_client(site) as client:
            created = sign_up(client, "nina")
            token = session_cookie_in(created)
            assert "Max-Age=60;" in created.headers["set-cookie"]
        with new_client(site, cookies={"session": token}) as replay:
            clock.advance(59)
            assert replay.get("/api/usage").status_code == 200
            clock.advance(1)
            assert replay.get("/api/usage").status_code == 401
            assert "Hello," not in replay.get("/").text


def test_a_malformed_session_cookie_is_just_signed_out(site: Site) -> None:
    for value in ("zz", "A" * 64, "0" * 64, "<script>"):
        with new_client(site, cookies={"session": value}) as client:
            assert client.get("/api/usage").status_code == 401
            assert client.get("/").status_code == 200


# -- API -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"cost": 0}', "invalid_cost"),
        (b'{"cost": -1}', "invalid_cost"),
        (b'{"cost": 1.5}', "invalid_cost"),
        (b'{"cost": "2"}', "invalid_cost"),
        (b'{"cost": true}', "invalid_cost"),
        (b'{"cost": 1000000001}', "invalid_cost"),
        (b"[1]", "invalid_body"),
        (b"{cost: 1}", "invalid_json"),
        (b'{"cost": NaN}', "invalid_json"),
    ],
)
def test_bad_cost_is_400_and_spends_nothing(client: httpx.Client, body: bytes, error: str) -> None:
    sign_up(client, "oscar")
    answer = client.post(
        "/api/requests", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["ok"] is False and answer.json()["error"] == error
    assert client.get("/api/usage").json()["used"] == 0


def test_quota_exceeded_is_402_all_or_nothing(site: Site, client: httpx.Client) -> None:
    sign_up(client, "peggy")
    set_limit(site.storage, "peggy", 10)
    assert spend(client, 8).json()["used"] == 8
    refused = spend(client, 3)
    assert refused.status_code == 402
    assert refused.json() == {
        "ok": False,
        "error": "quota_exceeded",
        "message": "not enough credits left for a cost of 3",
        "used": 8,
        "limit": 10,
    }
    assert spend(client, 2).json() == {"ok": True, "used": 10, "limit": 10, "remaining": 0}
    assert spend(client).status_code == 402


def test_api_without_session_is_401(client: httpx.Client) -> None:
    not_signed_in = {
        "ok": False,
        "error": "not_signed_in",
        "message": "sign in first: send the session cookie",
    }
    assert client.get("/api/usage").json() == not_signed_in
    answer = spend(client)
    assert answer.status_code == 401
    assert answer.json() == not_signed_in
    assert client.get("/api/nothing-here").json() == {
        "ok": False,
        "error": "not_found",
        "message": "no such API endpoint",
    }


class HeldSleep:
    """Stands in for the api module's ``time``: each sleep waits until the test lets go."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.sleeping = threading.Semaphore(0)
        self.wake = threading.Event()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.sleeping.release()
        assert self.wake.wait(timeout=30)


def test_slow_request_does_not_hold_up_others(
    client: httpx.Client, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldSleep()
    monkeypatch.setattr(api_module, "time", held)  # this module's name only
    slow_result: list[httpx.Response] = []
    token = session_cookie_in(sign_up(client, "sloane"))

    def call_slow() -> None:
        with new_client(site, cookies={"session": token}) as other:
            slow_result.append(other.get("/api/slow", params={"seconds": "2"}))

    thread = threading.Thread(target=call_slow)
    thread.start()
    try:
        assert held.sleeping.acquire(timeout=30)  # the slow request sleeps in its worker
        assert client.get("/faq").status_code == 200  # answered meanwhile
        assert thread.is_alive()  # still in flight while the quick one was answered
    finally:
        held.wake.set()
        thread.join(timeout=30)
    assert slow_result[0].json() == {"ok": True, "slept": 2.0}
    assert held.slept == [2.0]


@pytest.mark.parametrize("value", ["abc", "", "-1", "nan", "inf"])
def test_slow_rejects_bad_seconds(client: httpx.Client, value: str) -> None:
    sign_up(client, "sid")
    answer = client.get("/api/slow", params={"seconds": value})
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_seconds"
    negative = value == "-1"
    assert answer.json()["message"] == (
        "seconds must be 0 or more" if negative else "seconds must be a number"
    )


def test_slow_is_capped_at_ten_seconds(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_up(client, "sly")
    held = HeldSleep()
    held.wake.set()
    monkeypatch.setattr(api_module, "time", held)  # not time.sleep of every thread
    assert client.get("/api/slow", params={"seconds": "3600"}).json() == {
        "ok": True,
        "slept": 10.0,
    }
    assert held.slept == [10.0]


# -- pages, static files and errors ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/faq", "Frequently asked questions"),
        ("/docs", "POST /api/requests"),
        ("/reviews", "Reviews"),
        ("/signin", "Sign in"),
        ("/signup", "Create an account"),
    ],
)
def test_pages_share_the_layout(client: httpx.Client, path: str, text: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert text in answer.text
    assert '<link rel="stylesheet" href="/static/style.css">' in answer.text
    assert '<nav aria-label="Main">' in answer.text
    assert answer.headers["cache-control"] == "no-store"


def test_signed_in_user_sees_name_in_nav_on_every_page(client: httpx.Client) -> None:
    sign_up(client, "quinn")
    for path in ("/", "/faq", "/docs", "/reviews", "/no-such-page"):
        assert '<strong id="nav-username">quinn</strong>' in client.get(path).text
    assert client.get("/signin").status_code == 303  # nothing to do there when signed in


def test_docs_examples_use_this_servers_origin(client: httpx.Client, site: Site) -> None:
    page = client.get("/docs").text
    assert f"curl -s -b cookies.txt {site.url}/api/usage" in page


@pytest.mark.parametrize(
    ("path", "content_type", "starts_with"),
    [
        ("/favicon.ico", "image/vnd.microsoft.icon", b"\x00\x00\x01\x00"),
        ("/images/logo.svg", "image/svg+xml; charset=utf-8", b"<svg"),
        ("/static/style.css", "text/css; charset=utf-8", b"/*"),
        ("/static/app.js", "text/javascript; charset=utf-8", b"//"),
    ],
)
def test_static_files(
    client: httpx.Client, path: str, content_type: str, starts_with: bytes
) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == content_type
    assert answer.content.startswith(starts_with)
    assert "etag" in answer.headers


def test_unknown_path_gets_a_friendly_html_404(client: httpx.Client) -> None:
    for path in ("/no/such/page", "/images/missing.png", "/static/../pyproject.toml"):
        answer = client.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert "Page not found" in answer.text
        assert '<a class="button" href="/">Back to the home page</a>' in answer.text


def test_404_page_escapes_the_path(site: Site) -> None:
    # Sent raw: an HTTP client would percent-encode the quote and angle brackets.
    with socket.create_connection(("127.0.0.1", site.server.addresses[0][1]), timeout=5) as sock:
        sock.sendall(b'GET /"<b>x</b> HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 404 ")
    assert b"<b>x</b>" not in data
    assert b"nothing at <code>/&quot;&lt;b&gt;x&lt;/b&gt;</code>" in data


def test_signing_in_again_replaces_the_old_session(site: Site, client: httpx.Client) -> None:
    old_token = session_cookie_in(sign_up(client, "rupert"))
    # GET /signin now redirects home; the double-submit cookie from sign-up still holds
    # the token its form carried.
    form = {"csrf_token": client.cookies["csrf"], "username": "rupert"}
    wrong = client.post("/signin", data={**form, "password": "wr0ng!pass"})
    assert wrong.status_code == 422
    # A failed attempt leaves the existing session alone, in the browser too.
    assert not any(f.startswith("session=") for f in wrong.headers.get_list("set-cookie"))
    assert client.get("/api/usage").status_code == 200
    new_token = session_cookie_in(client.post("/signin", data={**form, "password": PASSWORD}))
    assert new_token != old_token
    with new_client(site, cookies={"session": old_token}) as replay:
        assert replay.get("/api/usage").status_code == 401
    assert client.get("/api/usage").status_code == 200
