"""create_app: the accounts web app, wired as one `barehttp.web.App`."""

from __future__ import annotations

import os
from pathlib import Path

from barehttp.app.accounts import make_accounts
from barehttp.app.api import Api, api_error
from barehttp.app.clock import Clock, system_clock
from barehttp.app.guard import add_strict_transport_security
from barehttp.app.pages import Pages
from barehttp.app.settings import AccountSettings
from barehttp.app.templates import DEFAULT_TEMPLATE_DIR, Templates
from barehttp.app.unavailable import StorageGuardedRouter, add_retry_after
from barehttp.protocol.errors import HTTPError
from barehttp.protocol.limits import Limits
from barehttp.storage.base import Storage
from barehttp.web.app import App
from barehttp.web.request import Request
from barehttp.web.response import Response
from barehttp.web.static import StaticFiles

DEFAULT_STATIC_DIR = Path(__file__).parent / "static"
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
) -> App:
    """The app's routes, static mounts and error pages over one `storage`.

    Routes:
        GET  /  /faq  /docs  /reviews        pages
        GET|POST /signup  /signin            forms (double-submit CSRF cookie)
        POST /signout  /spend                forms of a signed-in user (session CSRF token)
        POST /api/requests  GET /api/usage   JSON quota API (session cookie)
        GET  /api/slow?seconds=n             sleeps up to 10 s (signed in; a few at once)
        /static/…  /images/…  /favicon.ico   files under `static_dir`
    """
    settings = settings if settings is not None else AccountSettings()
    accounts = make_accounts(storage, settings, clock=clock)
    pages = Pages(accounts, Templates(template_dir), settings)
    api = Api(accounts, max_slow_requests=settings.max_slow_requests)
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

    app.mount("/static/", StaticFiles(static_root, cache_control=ASSET_CACHE_CONTROL))
    app.mount("/images/", StaticFiles(static_root / "images", cache_control=IMAGE_CACHE_CONTROL))
    # As a plain route StaticFiles serves the request path itself: static_dir/favicon.ico.
    app.add_route(
        "GET", "/favicon.ico", StaticFiles(static_root, cache_control=IMAGE_CACHE_CONTROL)
    )

    @app.error_handler(404)
    def not_found(request: Request, error: HTTPError) -> Response:
        if request.raw_path.startswith("/api/"):
            return api_error(404, "not_found")
        return pages.not_found(request, error)

    for status in (403, 500):
        app.error_handler(status)(pages.error_page)

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
