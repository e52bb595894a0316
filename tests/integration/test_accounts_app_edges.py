"""The accounts app's edges a new user meets: API errors, sign-out by API, asset folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.accounts_site import (
    Site,
    main_text,
    new_client,
    running_site,
    session_cookie_in,
    sign_up,
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    with running_site(tmp_path / "app.db") as running:
        yield running


@pytest.fixture
def client(site: Site) -> Iterator[httpx.Client]:
    with new_client(site) as opened:
        yield opened


# -- errors under /api/ are JSON --------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", "/api/requests", "OPTIONS, POST"), ("DELETE", "/api/usage", "GET, HEAD, OPTIONS")],
)
def test_405_under_api_is_json_with_allow(
    client: httpx.Client, method: str, path: str, allow: str
) -> None:
    answer = client.request(method, path)
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["allow"] == allow
    body = answer.json()
    assert body["ok"] is False and body["error"] == "method_not_allowed"
    assert body["message"] == f"use {allow}"


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [
        ("GET", "/api/usage", {}, b"", 401, "not_signed_in"),
        ("POST", "/api/requests", {}, b"", 401, "not_signed_in"),
        ("POST", "/api/requests", {"Origin": "https://evil.example"}, b"", 403, "cross_origin"),
        ("POST", "/api/signout", {"Content-Type": "text/plain"}, b"x", 415, "json_required"),
        ("GET", "/api/slow?seconds=nan", {}, b"", 401, "not_signed_in"),  # signed-in only
        ("GET", "/api/nothing", {}, b"", 404, "not_found"),
        ("PUT", "/api/usage", {}, b"", 405, "method_not_allowed"),
        ("GET", "/api/%ff", {}, b"", 400, "bad_request"),  # not UTF-8
    ],
    ids=lambda value: value if isinstance(value, str) and value.startswith("/") else None,
)
def test_every_api_error_is_json_with_a_code_and_a_message(
    tmp_path: Path,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    status: int,
    code: str,
) -> None:
    with running_site(tmp_path / "app.db") as site, new_client(site) as client:
        answer = client.request(method, path, headers=headers, content=body)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert document["ok"] is False
    assert document["error"] == code
    assert isinstance(document["message"], str) and document["message"]


def test_spend_refusals_come_in_order_not_signed_in_first(site: Site, client: httpx.Client) -> None:
    # A spend is one statement; only a refusal looks the session up, and it must still
    # answer 401 before 415 before 400 before 402, whatever else is wrong.
    attempts = [
        ({"Content-Type": "text/plain"}, b'{"cost": 1}'),
        ({"Content-Type": "application/json"}, b"{cost: 1}"),
        ({"Content-Type": "application/json"}, b'{"cost": 0}'),
        ({"Content-Type": "application/json"}, b'{"cost": 1}'),
    ]
    token = session_cookie_in(sign_up(client, "olga"))
    for cookies in ({}, {"session": "f" * 64}, {"session": "not-hex"}):
        with new_client(site, cookies=cookies) as stranger:
            for headers, body in attempts:
                answer = stranger.post("/api/requests", headers=headers, content=body)
                assert (answer.status_code, answer.json()["error"]) == (401, "not_signed_in")
    codes = [
        (answer.status_code, answer.json().get("error"))
        for answer in (client.post("/api/requests", headers=h, content=b) for h, b in attempts)
    ]
    assert codes[:3] == [(415, "json_required"), (400, "invalid_json"), (400, "invalid_cost")]
    assert codes[3] == (200, None)
    big = client.post("/api/requests", json={"cost": 1_000_000_000})
    assert (big.status_code, big.json()["used"]) == (402, 1)
    client.post("/api/signout", json={})
    with new_client(site, cookies={"session": token}) as kept:  # signed out: 401 again
        answer = kept.post("/api/requests", json={"cost": 1})
        assert (answer.status_code, answer.json()["error"]) == (401, "not_signed_in")
    assert [user.credits_used for user in site.storage.list_users()] == [1]


def test_405_of_a_page_stays_plain_text(client: httpx.Client) -> None:
    answer = client.put("/faq")
    assert answer.status_code == 405
    assert answer.headers["content-type"].startswith("text/plain")
    assert "allow" in answer.headers


# -- signing out from the API ------------------------------------------------------------


def test_api_sign_out_ends_the_session(site: Site, client: httpx.Client) -> None:
    token = session_cookie_in(sign_up(client, "sally"))
    answer = client.post("/api/signout", json={})
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "signed_out": True}
    cleared = answer.headers.get_list("set-cookie")
    assert any(field.startswith("session=;") and "Max-Age=0" in field for field in cleared)
    # The token no longer works, even sent by a client that kept it.
    with new_client(site, cookies={"session": token}) as kept:
        assert kept.get("/api/usage").status_code == 401
    again = client.post("/api/signout", headers={"Content-Type": "application/json"})
    assert again.json() == {"ok": True, "signed_out": False}


def test_api_sign_out_needs_json_like_spending(site: Site, client: httpx.Client) -> None:
    sign_up(client, "simon")
    form_post = client.post("/api/signout", data={"x": "1"})  # what a cross-site form sends
    assert form_post.status_code == 415
    assert form_post.json()["error"] == "json_required"
    cross_origin = client.post("/api/signout", json={}, headers={"Origin": "https://evil.example"})
    assert cross_origin.status_code == 403
    assert client.get("/api/usage").status_code == 200  # still signed in


# -- asset folders ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/static", "/images", "/static/", "/images/"])
def test_asset_folders_are_a_404_without_a_redirect(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 404  # not a 308 to a folder that is then a 404
    assert "Page not found" in answer.text
    assert client.get("/static/style.css").status_code == 200


# -- accounts ----------------------------------------------------------------------------


def test_two_accounts_may_share_an_email_address(site: Site) -> None:
    # Documented choice: email is an unverified contact address, never a sign-in name.
    for username in ("ann", "bob"):
        with new_client(site) as client:
            assert sign_up(client, username, "family@example.com").status_code == 303
    assert [user.email for user in site.storage.list_users()] == ["family@example.com"] * 2


def test_faq_states_the_username_and_email_policies(client: httpx.Client) -> None:
    text = main_text(client.get("/faq").text)
    assert "Is my username secret? No." in text
    assert "Can two accounts share an email address? Yes." in text


def test_reviews_are_labelled_as_sample_content(client: httpx.Client) -> None:
    text = main_text(client.get("/reviews").text)
    assert "Sample content: these reviews are invented" in text
