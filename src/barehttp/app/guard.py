"""Session cookie, CSRF tokens and the same-origin check of the web app.

CSRF defence, in layers:

* Every cookie is ``SameSite=Lax``: browsers leave it off cross-site POSTs.
* A POST whose ``Origin`` names another origin (or ``null``) is refused with 403.
* Forms of a signed-in user carry the session's CSRF token (stored with the
  session); forms of a visitor (sign-up, sign-in) carry a double-submit token that
  must equal the ``csrf`` cookie. Either mismatch is 403.
* The JSON API takes only ``Content-Type: application/json``, which a cross-site
  page cannot send without a CORS preflight that this server never approves.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from barehttp.app.accounts import Accounts, CurrentUser
from barehttp.app.sessions import CSRF_TOKEN_BYTES, check_csrf, tokens_equal
from barehttp.protocol.errors import HTTPError
from barehttp.storage.base import Session
from barehttp.web.forms import MultiDict
from barehttp.web.request import Request
from barehttp.web.response import Response

SESSION_COOKIE = "session"
CSRF_COOKIE = "csrf"  # the visitor's double-submit token
# Over TLS both names get this prefix (RFC 6265bis §4.1.3.2): browsers accept such a
# cookie only with Secure, Path=/ and no Domain, so neither a sibling subdomain nor a
# man in the middle on plain HTTP can plant one (session fixation, CSRF token forcing).
HOST_PREFIX = "__Host-"
CSRF_FIELD = "csrf_token"  # the hidden form field carrying either token
# token_urlsafe output: the only shape accepted back from the cookie, so a hostile
# cookie value can never reach the page (it is echoed into the hidden field).
_CSRF_TOKEN = re.compile(r"[A-Za-z0-9_\-]{32,128}")


class Forbidden(HTTPError):
    """403: a forged or stale form, or a request from another origin."""

    status = 403
    reason = "Forbidden"


def cookie_name(request: Request, name: str) -> str:
    """`name` over plain HTTP; `__Host-name` over TLS, and only that is read back."""
    return HOST_PREFIX + name if request.is_secure else name


def session_token(request: Request) -> str | None:
    """The session cookie's value, if any (validity is the session manager's job)."""
    return request.cookies.get(cookie_name(request, SESSION_COOKIE)) or None


def has_session_cookie(request: Request) -> bool:
    return cookie_name(request, SESSION_COOKIE) in request.cookies


def current_viewer(accounts: Accounts, request: Request) -> CurrentUser | None:
    """The signed-in user, or None (no cookie, unknown, expired or revoked session)."""
    token = session_token(request)
    return None if token is None else accounts.current_user(token)


def set_session_cookie(response: Response, request: Request, token: str, max_age_s: int) -> None:
    """Hand the browser its session token: unreadable to scripts, not sent cross-site."""
    response.set_cookie(
        cookie_name(request, SESSION_COOKIE),
        token,
        max_age=max_age_s,
        path="/",
        secure=request.is_secure,  # over HTTPS never sent back in clear text
        httponly=True,  # injected script cannot read it
        samesite="Lax",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(cookie_name(request, SESSION_COOKIE), path="/", secure=request.is_secure)


def visitor_csrf_token(request: Request) -> tuple[str, bool]:
    """The visitor's double-submit token and whether it is new (then set the cookie)."""
    existing = request.cookies.get(cookie_name(request, CSRF_COOKIE), "")
    if _CSRF_TOKEN.fullmatch(existing):
        return existing, False
    return secrets.token_urlsafe(CSRF_TOKEN_BYTES), True


def set_csrf_cookie(response: Response, request: Request, token: str) -> None:
    # No Max-Age: it lives as long as the browser session; the form is filled in well before.
    response.set_cookie(
        cookie_name(request, CSRF_COOKIE),
        token,
        path="/",
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )


def check_visitor_csrf(request: Request, form: MultiDict) -> None:
    """The form's token must equal the ``csrf`` cookie (double submit).

    Raises:
        Forbidden: either is missing, malformed, or they differ.
    """
    cookie = request.cookies.get(cookie_name(request, CSRF_COOKIE), "")
    submitted = form.get(CSRF_FIELD, "")
    if not _CSRF_TOKEN.fullmatch(cookie) or not tokens_equal(cookie, submitted):
        raise Forbidden("this form has expired or was not sent from this site; reload the page")


def check_session_csrf(session: Session, form: MultiDict) -> None:
    """The form's token must be the session's CSRF token.

    Raises:
        Forbidden: missing or different.
    """
    if not check_csrf(session, form.get(CSRF_FIELD, "")):
        raise Forbidden("this form has expired or was not sent from this site; reload the page")


def add_strict_transport_security(request: Request, response: Response, max_age_s: int) -> None:
    """Over TLS, tell the browser to use HTTPS only for this host (RFC 6797 §6.1).

    Browsers ignore the field on plain HTTP (§8.1), so it is sent over TLS only.
    No includeSubDomains: other hosts under this name are not ours to decide.
    """
    if request.is_secure and response.get_header("strict-transport-security") is None:
        response.headers.append(("Strict-Transport-Security", f"max-age={max_age_s}"))


def check_same_origin(request: Request) -> None:
    """Refuse a request whose ``Origin`` field names another site (RFC 6454 §7).

    Browsers send ``Origin`` on every POST; a request without it (curl, old
    browsers) is left to the token checks.

    Raises:
        Forbidden: ``Origin`` is ``null`` or differs from this server's origin.
    """
    origin = request.headers.get("origin")
    if origin is None:
        return
    parts = urlsplit(origin.strip().lower())
    if parts.scheme != request.scheme or parts.netloc != request.host.lower():
        raise Forbidden("cross-origin request refused")
