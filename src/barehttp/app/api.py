"""The JSON API: spend credits, read usage, and a slow endpoint that proves concurrency.

Authentication is the session cookie. CSRF: ``POST /api/requests`` accepts only
``Content-Type: application/json`` (415 otherwise), even with an empty body. A
cross-site page can send that type only after a CORS preflight, which this server
never approves, so a forged form or ``fetch`` cannot spend anyone's credits; the
``SameSite=Lax`` cookie and the ``Origin`` check refuse it a second and third time.
"""

from __future__ import annotations

import math
import threading
import time

from barehttp.app.accounts import Accounts
from barehttp.app.guard import (
    Forbidden,
    check_same_origin,
    clear_session_cookie,
    current_viewer,
    session_token,
)
from barehttp.app.live_credits import LiveCredits
from barehttp.protocol.errors import BadRequest
from barehttp.storage.base import MAX_CREDITS, Usage
from barehttp.web.json_value import JSONInput
from barehttp.web.request import Request
from barehttp.web.response import JSONResponse, Response

MAX_SLOW_SECONDS = 10.0  # /api/slow never holds a worker longer than this
MAX_SLOW_REQUESTS = 4  # /api/slow calls sleeping at once per process; 503 beyond
DEFAULT_COST = 1
NOT_SIGNED_IN = "sign in first: send the session cookie"
CROSS_ORIGIN = "requests from another site are refused"
_HEADERS = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))


def api_error(status: int, error: str, *, message: str, **details: JSONInput) -> JSONResponse:
    """``{"ok": false, "error": <code>, "message": ...}``: a code to branch on, words to show."""
    body = {"ok": False, "error": error, "message": message, **details}
    return JSONResponse(body, status, list(_HEADERS))


class Api:
    """The ``/api/`` handlers; each public method is a ``(Request) -> Response`` handler."""

    def __init__(
        self,
        accounts: Accounts,
        *,
        max_slow_s: float = MAX_SLOW_SECONDS,
        max_slow_requests: int = MAX_SLOW_REQUESTS,
        live: LiveCredits | None = None,
    ) -> None:
        if max_slow_requests < 1:
            raise ValueError("max_slow_requests must be >= 1")
        self.accounts = accounts
        self.live = live  # told of every spend, for the pages open live
        self.max_slow_s = max_slow_s
        # Each sleeping call holds a handler thread: without a bound, 64 anonymous
        # calls would put every thread of the server to sleep.
        self._slow_slots = threading.BoundedSemaphore(max_slow_requests)

    def spend(self, request: Request) -> Response:
        """``POST /api/requests``: spend ``cost`` credits (default 1), all or nothing.

        A spend that succeeds is one database statement (`SessionManager.spend`); the
        session and user are read separately only to explain a refusal, in this order:
        401 not signed in, 415 not JSON, 400 bad cost, 402 too few credits.
        """
        try:
            check_same_origin(request)
        except Forbidden:
            return api_error(403, "cross_origin", message=CROSS_ORIGIN)
        token = session_token(request)
        is_json = request.media_type == "application/json"
        cost = _read_cost(request) if is_json else DEFAULT_COST
        if token is not None and is_json and isinstance(cost, int):
            usage = self.accounts.sessions.spend(token, cost)
            if usage is not None:
                if self.live is not None:
                    self.live.spent_by_session(token, usage)
                return _usage_response(usage)
        viewer = current_viewer(self.accounts, request)
        if viewer is None:
            return api_error(401, "not_signed_in", message=NOT_SIGNED_IN)
        if not is_json:
            return api_error(415, "json_required", message="send Content-Type: application/json")
        if isinstance(cost, Response):
            return cost
        return api_error(  # signed in with a valid cost, yet nothing was spent
            402,
            "quota_exceeded",
            message=f"not enough credits left for a cost of {cost}",
            used=viewer.user.credits_used,
            limit=viewer.user.credits_limit,
        )

    def usage(self, request: Request) -> Response:
        """``GET /api/usage``: the signed-in user's counter."""
        viewer = current_viewer(self.accounts, request)
        if viewer is None:
            return api_error(401, "not_signed_in", message=NOT_SIGNED_IN)
        user = viewer.user  # read with the session, in the same statement: no second trip
        return _usage_response(
            Usage(credits_used=user.credits_used, credits_limit=user.credits_limit)
        )

    def sign_out(self, request: Request) -> Response:
        """``POST /api/signout``: end the session; JSON only, as for spending.

        Answers 200 whether or not a session existed (``signed_out`` says which),
        and clears the cookie either way.
        """
        try:
            check_same_origin(request)
        except Forbidden:
            return api_error(403, "cross_origin", message=CROSS_ORIGIN)
        if request.media_type != "application/json":
            return api_error(415, "json_required", message="send Content-Type: application/json")
        token = session_token(request)
        signed_out = token is not None and self.accounts.sign_out(token)
        if token is not None and self.live is not None:
            self.live.signed_out(token)  # its live pages stop too
        response = JSONResponse({"ok": True, "signed_out": signed_out}, 200, list(_HEADERS))
        clear_session_cookie(response, request)
        return response

    def slow(self, request: Request) -> Response:
        """``GET /api/slow?seconds=n``: sleep n seconds (capped), then answer.

        Signed-in users only (401), and at most `max_slow_requests` at once (503).
        """
        if current_viewer(self.accounts, request) is None:
            return api_error(401, "not_signed_in", message=NOT_SIGNED_IN)
        values = request.query.get("seconds", ["1"])
        try:
            seconds = float(values[0])
        except ValueError:
            seconds = math.nan
        if not math.isfinite(seconds):  # "nan" and "inf" parse as floats but are no duration
            return api_error(400, "invalid_seconds", message="seconds must be a number")
        if seconds < 0:
            return api_error(400, "invalid_seconds", message="seconds must be 0 or more")
        seconds = min(seconds, self.max_slow_s)
        if not self._slow_slots.acquire(blocking=False):
            busy = api_error(
                503, "too_many_slow_requests", message="too many slow calls at once; retry later"
            )
            # RFC 9110 §10.2.3: a slot frees up within one capped sleep at most.
            busy.headers.append(("Retry-After", str(max(1, math.ceil(self.max_slow_s)))))
            return busy
        try:
            time.sleep(seconds)  # holds one worker thread; the others keep answering
        finally:
            self._slow_slots.release()
        return JSONResponse({"ok": True, "slept": seconds}, 200, list(_HEADERS))


def _read_cost(request: Request) -> int | Response:
    """The cost from an optional ``{"cost": n}`` body, or the 400 to answer."""
    if not request.body:
        return DEFAULT_COST
    try:
        document = request.json()
    except BadRequest:
        return api_error(400, "invalid_json", message="the body is not valid JSON")
    if not isinstance(document, dict):
        return api_error(400, "invalid_body", message='send a JSON object like {"cost": 1}')
    cost = document.get("cost", DEFAULT_COST)
    # bool is an int in Python; true must not count as a cost of 1.
    if isinstance(cost, bool) or not isinstance(cost, int) or not 0 < cost <= MAX_CREDITS:
        return api_error(
            400, "invalid_cost", message=f"cost must be an integer from 1 to {MAX_CREDITS}"
        )
    return cost


def _usage_response(usage: Usage) -> JSONResponse:
    return JSONResponse(
        {
            "ok": True,
            "used": usage.credits_used,
            "limit": usage.credits_limit,
            "remaining": usage.credits_remaining,
        },
        200,
        list(_HEADERS),
    )
