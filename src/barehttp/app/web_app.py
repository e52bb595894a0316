"""create_app: the accounts web app, wired as one `barehttp.web.App`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from barehttp.app.accounts import make_accounts
from barehttp.app.api import Api, api_error
from barehttp.app.clock import Clock, system_clock
from barehttp.app.credits_feed import CreditsFeed
from barehttp.app.guard import add_strict_transport_security
from barehttp.app.live_credits import LiveCredits
from barehttp.app.live_poll import CreditsPoller
from barehttp.app.pages import Pages
from barehttp.app.settings import AccountSettings
from barehttp.app.templates import DEFAULT_TEMPLATE_DIR, Templates
from barehttp.app.unavailable import StorageGuardedRouter, add_retry_after
from barehttp.protocol.errors import HTTPError
from barehttp.protocol.limits import Limits
from barehttp.storage.base import Storage
from barehttp.web.app import App, ErrorHandler, render_error_page
from barehttp.web.errors import MethodNotAllowed, NotFound
from barehttp.web.request import Request
from barehttp.web.response import Response
from barehttp.web.static import StaticFiles

DEFAULT_STATIC_DIR = Path(__file__).parent / "static"
# The statuses the web layer raises for a request, and their codes under /api/.
API_ERROR_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}
# The stylesheet and script change with releases: revalidate (cheap 304s with ETag).
# Images and the icon rarely change: an hour in caches.
ASSET_CACHE_CONTROL = "no-cache"
IMAGE_CACHE_CONTROL = "public, max-age=3600"


def create_app(
    storage: Storage,
    settings: AccountSettings | None = None,
    static_dir: str | os.PathLike[str] = DEFAULT_STATIC_DIR,
    *,
    template_dir: str | os.PathLike[str] = DEFAULT_TEMPLATE_DIR,
    limits: Limits | None = None,
    clock: Clock = system_clock,
    on_shutdown: list[Callable[[], None]] | None = None,
) -> App:
    """The app's routes, static mounts and error pages over one `storage`.

    Routes:
        GET  /  /faq  /docs  /reviews        pages
        GET|POST /signup  /signin            forms (double-submit CSRF cookie)
        POST /signout  /spend                forms of a signed-in user (session CSRF token)
        POST /api/requests  GET /api/usage   JSON quota API (session cookie)
        POST /api/signout                    ends the session (JSON, like the API)
        GET  /api/slow?seconds=n             sleeps up to 10 s (signed in; a few at once)
        GET  /ws/credits                     WebSocket: the user's credits, pushed on change
        /static/…  /images/…  /favicon.ico   files under `static_dir`

    The app's own shutdown steps (stopping the live credits poll) are appended to
    `on_shutdown`: run them once the server has drained, before `storage` closes.
    """
    settings = settings if settings is not None else AccountSettings()
    accounts = make_accounts(storage, settings, clock=clock)
    feed = CreditsFeed(
        max_per_user=settings.max_live_pages_per_user, max_total=settings.max_live_pages
    )
    poller = CreditsPoller(feed, storage, interval_s=settings.live_credits_poll_s, clock=clock)
    live = LiveCredits(accounts, feed, poller)
    if on_shutdown is not None:
        on_shutdown.append(live.close)
    pages = Pages(accounts, Templates(template_dir), settings, live)
    api = Api(accounts, max_slow_requests=settings.max_slow_requests, live=live)
    static_root = Path(static_dir)

    router = StorageGuardedRouter(retry_after_s=settings.storage_retry_after_s)
    app = App(limits=limits, router=router)
    app.add_route("GET", "/", pages.home)
    app.add_route("GET", "/faq", pages.faq)
    app.add_route("GET", "/docs", pages.docs)
    app.add_route("GET", "/reviews", pages.reviews)
    app.add_route("GET", "/signup", pages.sign_up_form)
    app.add_route("POST", "/signup", pages.sign_up)
    app.add_route("GET", "/signin", pages.sign_in_form)
    app.add_route("POST", "/signin", pages.sign_in)
    app.add_route("POST", "/signout", pages.sign_out)
    app.add_route("POST", "/spend", pages.spend)
    app.add_route("POST", "/api/requests", api.spend)
    app.add_route("GET", "/api/usage", api.usage)
    app.add_route("GET", "/api/slow", api.slow)
    app.add_route("POST", "/api/signout", api.sign_out)
    app.websocket("/ws/credits")(live.open)

    app.mount("/static/", StaticFiles(static_root, cache_control=ASSET_CACHE_CONTROL))
    app.mount("/images/", StaticFiles(static_root / "images", cache_control=IMAGE_CACHE_CONTROL))
    # The asset folders have no page of their own (no listing): "/static" is a 404 at
    # once, not a 308 to "/static/" that is then a 404.
    for folder in ("/static", "/images"):
        app.add_route("GET", folder, _no_page)
    # As a plain route StaticFiles serves the request path itself: static_dir/favicon.ico.
    app.add_route(
        "GET", "/favicon.ico", StaticFiles(static_root, cache_control=IMAGE_CACHE_CONTROL)
    )

    # Errors under /api/ are JSON like every other API answer; elsewhere, pages.
    html_pages: dict[int, ErrorHandler] = {
        404: pages.not_found,
        403: pages.error_page,
        500: pages.error_page,
    }

    def answer_error(request: Request, error: HTTPError) -> Response:
        if request.raw_path.startswith("/api/"):  # App adds Allow to a 405 either way
            return api_error_for(error)
        return html_pages.get(error.status, render_error)(request, error)

    for status in API_ERROR_CODES:
        app.error_handler(status)(answer_error)

    @app.error_handler(503)
    def unavailable(request: Request, error: HTTPError) -> Response:
        if request.raw_path.startswith("/api/"):
            message = "the service is briefly unavailable; retry after Retry-After seconds"
            return add_retry_after(api_error(503, "unavailable", message=message), error)
        return add_retry_after(pages.error_page(request, error), error)

    @app.before_send
    def strict_transport_security(request: Request, response: Response) -> None:
        add_strict_transport_security(request, response, settings.hsts_max_age_s)

    return app


def api_error_for(error: HTTPError) -> Response:
    """An error raised under /api/ as ``{"ok": false, "error", "message"}``."""
    if isinstance(error, MethodNotAllowed):
        message = "use " + ", ".join(error.allowed_methods)
    elif error.status == 404:
        message = "no such API endpoint"
    elif error.status >= 500:
        message = "something went wrong on our side"  # never the inside's own words
    else:
        message = error.message
    return api_error(error.status, API_ERROR_CODES[error.status], message=message)


def render_error(request: Request, error: HTTPError) -> Response:
    return render_error_page(error)


def _no_page(request: Request) -> Response:
    raise NotFound()
