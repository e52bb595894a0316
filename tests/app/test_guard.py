"""The web app's CSRF and origin checks, on in-memory requests."""

from __future__ import annotations

import pytest

from barehttp.app.guard import (
    CSRF_COOKIE,
    Forbidden,
    check_same_origin,
    check_session_csrf,
    check_visitor_csrf,
    set_session_cookie,
    visitor_csrf_token,
)
from barehttp.storage.base import Session
from barehttp.web.forms import MultiDict
from barehttp.web.request import Request
from barehttp.web.response import Response
from tests.web.fakes import FakeExchange

TOKEN = "A" * 43


def make_request(headers: list[tuple[str, str]] | None = None, *, is_tls: bool = False) -> Request:
    all_headers = [("Host", "127.0.0.1:8080"), *(headers or [])]
    return Request(FakeExchange("POST", "/signin", all_headers, is_tls=is_tls))


@pytest.mark.parametrize(
    ("cookie", "field"),
    [
        (None, TOKEN),
        (TOKEN, None),
        (TOKEN, "B" * 43),
        ("short", "short"),
        ("", ""),
        (TOKEN, TOKEN + "x"),
    ],
    ids=["no-cookie", "no-field", "different", "malformed", "both-empty", "longer-field"],
)
def test_visitor_csrf_refuses(cookie: str | None, field: str | None) -> None:
    headers = [] if cookie is None else [("Cookie", f"{CSRF_COOKIE}={cookie}")]
    form = MultiDict([] if field is None else [("csrf_token", field)])
    with pytest.raises(Forbidden):
        check_visitor_csrf(make_request(headers), form)


def test_visitor_csrf_accepts_matching_cookie_and_field() -> None:
    request = make_request([("Cookie", f"{CSRF_COOKIE}={TOKEN}")])
    check_visitor_csrf(request, MultiDict([("csrf_token", TOKEN)]))


def test_visitor_token_reuses_a_well_formed_cookie_and_replaces_a_hostile_one() -> None:
    assert visitor_csrf_token(make_request([("Cookie", f"csrf={TOKEN}")])) == (TOKEN, False)
    hostile = make_request([("Cookie", 'csrf="><script>x</script>')])
    token, is_new = visitor_csrf_token(hostile)
    assert is_new and token.replace("-", "").replace("_", "").isalnum()


def test_session_csrf() -> None:
    session = Session(
        token_hash=b"h" * 32, user_id=1, csrf_token=TOKEN, created_at=0.0, expires_at=1.0
    )
    check_session_csrf(session, MultiDict([("csrf_token", TOKEN)]))
    for form in (
        MultiDict(),
        MultiDict([("csrf_token", "x")]),
        MultiDict([("csrf_token", "\udc80")]),
    ):
        with pytest.raises(Forbidden):
            check_session_csrf(session, form)


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example", "null", "https://127.0.0.1:8080", "http://127.0.0.1:8081"],
)
def test_other_origins_are_refused(origin: str) -> None:
    with pytest.raises(Forbidden):
        check_same_origin(make_request([("Origin", origin)]))


@pytest.mark.parametrize("origin", [None, "http://127.0.0.1:8080", "HTTP://127.0.0.1:8080"])
def test_same_origin_or_no_origin_passes(origin: str | None) -> None:
    check_same_origin(make_request([] if origin is None else [("Origin", origin)]))


@pytest.mark.parametrize("is_tls", [False, True])
def test_session_cookie_attributes(is_tls: bool) -> None:
    response = Response()
    set_session_cookie(response, make_request(is_tls=is_tls), "ab" * 32, 3600)
    field = response.get_header("set-cookie")
    assert field is not None
    parts = field.split("; ")
    assert parts[0] == ("__Host-session=" if is_tls else "session=") + "ab" * 32
    assert {"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3600"} <= set(parts)
    assert ("Secure" in parts) is is_tls
    assert not any(part.startswith("Domain=") for part in parts)  # __Host- forbids it
