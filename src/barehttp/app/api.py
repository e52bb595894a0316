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
from barehttp.app.guard import Forbidden, check_same_origin, current_viewer
from barehttp.app.quota import QuotaExceeded
from barehttp.protocol.errors import BadRequest
from barehttp.storage.base import MAX_CREDITS, Usage
from barehttp.web.json_value import JSONInput
from barehttp.web.request import Request
from barehttp.web.response import JSONResponse, Response

MAX_SLOW_SECONDS = 10.0  # /api/slow never holds a worker longer than this
MAX_SLOW_REQUESTS = 4  # /api/slow calls sleeping at once per process; 503 beyond
DEFAULT_COST = 1
_HEADERS = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))


def api_error(status: int, error: str, **details: JSONInput) -> JSONResponse:
    """``{"ok": false, "error": <code>, ...}``: a stable code a client can branch on."""
    return JSONResponse({"ok": False, "error": error, **details}, status, list(_HEADERS))


class Api:
    """The ``/api/`` handlers; each public method is a ``(Request) -> Response`` handler."""

    def __init__(
        self,
        accounts: Accounts,
        *,
        max_slow_s: float = MAX_SLOW_SECONDS,
        max_slow_requests: int = MAX_SLOW_REQUESTS,
    ) -> None:
        if max_slow_requests < 1:
            raise ValueError("max_slow_requests must be >= 1")
        self.accounts = accounts
        self.max_slow_s = max_slow_s
        # Each sleeping call holds a handler thread: without a bound, 64 anonymous
        # calls would put every thread of the server to sleep.
        self._slow_slots = threading.BoundedSemaphore(max_slow_requests)

    def spend(self, request: Request) -> Response:
        """``POST /api/requests``: spend ``cost`` credits (default 1), all or nothing."""
        try:
            check_same_origin(request)
        except Forbidden:
            return api_error(403, "cross_origin")
        viewer = current_viewer(self.accounts, request)
        if viewer is None:
            return api_error(401, "not_signed_in")
        if request.media_type != "application/json":
            return api_error(415, "json_required", message="send Content-Type: application/json")
        cost = _read_cost(request)
        if isinstance(cost, Response):
            return cost
        try:
            usage = self.accounts.quota.spend(viewer.user.id, cost)
        except QuotaExceeded:
            current = self.accounts.quota.usage(viewer.user.id)
            return api_error(
                402, "quota_exceeded", used=current.credits_used, limit=current.credits_limit
            )
        return _usage_response(usage)

    def usage(self, request: Request) -> Response:
        """``GET /api/usage``: the signed-in user's counter."""
        viewer = current_viewer(self.accounts, request)
        if viewer is None:
            return api_error(401, "not_signed_in")
        return _usage_response(self.accounts.quota.usage(viewer.user.id))

    def slow(self, request: Request) -> Response:
        """``GET /api/slow?seconds=n``: sleep n seconds (capped), then answer.

        Signed-in users only (401), and at most `max_slow_requests` at once (503).
        """
        if current_viewer(self.accounts, request) is None:
            return api_error(401, "not_signed_in")
        values = request.query.get("seconds", ["1"])
        try:
            seconds = float(values[0])
        except ValueError:
            return api_error(400, "invalid_seconds", message="seconds must be a number")
        if not math.isfinite(seconds) or seconds < 0:
            return api_error(400, "invalid_seconds", message="seconds must be 0 or more")
        seconds = min(seconds, self.max_slow_s)
        if not self._slow_slots.acquire(blocking=False):
            busy = api_error(503, "too_many_slow_requests")
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
