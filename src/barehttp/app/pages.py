"""HTML handlers: home, sign-up, sign-in, sign-out, spend, static pages and error pages."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from barehttp.app.accounts import (
    Accounts,
    CurrentUser,
    SignUpRejected,
    TooManyAttempts,
    TooManySignUps,
    WrongCredentials,
)
from barehttp.app.guard import (
    CSRF_FIELD,
    check_same_origin,
    check_session_csrf,
    check_visitor_csrf,
    clear_session_cookie,
    current_viewer,
    has_session_cookie,
    session_token,
    set_csrf_cookie,
    set_session_cookie,
    visitor_csrf_token,
)
from barehttp.app.hashing_pool import HashingBusy
from barehttp.app.live_credits import LiveCredits
from barehttp.app.quota import QuotaExceeded
from barehttp.app.settings import AccountSettings
from barehttp.app.templates import Markup, Templates, join
from barehttp.app.validation import EMAIL, PASSWORD, USERNAME, ValidationResult
from barehttp.protocol.errors import HTTPError
from barehttp.web.request import Request
from barehttp.web.response import HTMLResponse, RedirectResponse, Response

logger = logging.getLogger("barehttp.app")

# Scripts, styles and images from this origin only: an injected <script> or inline
# handler would not run even if escaping ever failed. No framing (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    # Pages show who is signed in: never cached, so a shared computer's back
    # button cannot show the previous user's page after sign-out.
    ("Cache-Control", "no-store"),
)
# RFC 6797: after one page over HTTPS, the browser uses only HTTPS here for a year.
# Sent only over HTTPS (§7.2: never over plain HTTP), directly or behind a trusted proxy.
UNPROCESSABLE = 422  # RFC 9110 §15.5.21: the form was understood but its content refused
QUOTA_EXCEEDED = 402


class Pages:
    """The HTML side of the app; each public method is a ``(Request) -> Response`` handler."""

    def __init__(
        self,
        accounts: Accounts,
        templates: Templates,
        settings: AccountSettings,
        live: LiveCredits | None = None,
    ) -> None:
        self.accounts = accounts
        self.templates = templates
        self.settings = settings
        self.live = live  # told of every spend, for the pages open live

    # -- pages -------------------------------------------------------------------

    def home(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            content = self.templates.render(
                "home_visitor", credits=self.settings.default_credits_limit
            )
            return self.page(request, None, "Welcome", content)
        return self._home_for(request, viewer, notice="")

    def faq(self, request: Request) -> Response:
        return self.page(request, self.viewer(request), "FAQ", self.templates.render("faq"))

    def docs(self, request: Request) -> Response:
        origin = f"{request.scheme}://{request.host}"
        content = self.templates.render("docs", origin=origin)
        return self.page(request, self.viewer(request), "API docs", content)

    def reviews(self, request: Request) -> Response:
        return self.page(request, self.viewer(request), "Reviews", self.templates.render("reviews"))

    # -- sign-up -------------------------------------------------------------------

    def sign_up_form(self, request: Request) -> Response:
        if self.viewer(request) is not None:
            return RedirectResponse("/", 303)
        return self._sign_up_page(request, {}, ValidationResult({}), 200)

    def sign_up(self, request: Request) -> Response:
        check_same_origin(request)
        form = request.form()
        check_visitor_csrf(request, form)
        values = {USERNAME: form.get(USERNAME, ""), EMAIL: form.get(EMAIL, "")}
        try:
            user = self.accounts.sign_up(
                values[USERNAME], values[EMAIL], form.get(PASSWORD, ""), request.client_address[0]
            )
        except SignUpRejected as rejected:
            return self._sign_up_page(request, values, rejected.validation, UNPROCESSABLE)
        except (TooManySignUps, HashingBusy) as error:
            status = 429 if isinstance(error, TooManySignUps) else 503
            response = self._sign_up_page(
                request, values, ValidationResult({}), status, message=str(error)
            )
            response.headers.append(("Retry-After", str(error.retry_after_s)))  # RFC 9110 §10.2.3
            return response
        # The new account is signed in at once: a fresh session, no second password check.
        new_session = self.accounts.sessions.create(user.id)
        return self._signed_in_redirect(request, new_session.token)

    def _sign_up_page(
        self,
        request: Request,
        values: Mapping[str, str],
        validation: ValidationResult,
        status: int,
        *,
        message: str = "",
    ) -> Response:
        token, is_new = visitor_csrf_token(request)
        content = self.templates.render(
            "signup",
            message=self.templates.render("form_error", message=message) if message else Markup(""),
            csrf_field=CSRF_FIELD,
            csrf_token=token,
            username=values.get(USERNAME, ""),
            email=values.get(EMAIL, ""),  # the password is never sent back
            username_errors=self._field_errors(USERNAME, validation),
            email_errors=self._field_errors(EMAIL, validation),
            password_errors=self._field_errors(PASSWORD, validation),
            username_invalid=_aria_invalid(USERNAME, validation),
            email_invalid=_aria_invalid(EMAIL, validation),
            password_invalid=_aria_invalid(PASSWORD, validation),
        )
        response = self.page(request, self.viewer(request), "Sign up", content, status)
        if is_new:
            set_csrf_cookie(response, request, token)
        return response

    def _field_errors(self, field: str, validation: ValidationResult) -> Markup:
        messages = validation.messages(field)
        if not messages:
            return Markup("")
        items = join([self.templates.render("error_item", message=m) for m in messages], "")
        return self.templates.render("field_errors", field=field, items=items)

    # -- sign-in and sign-out ---------------------------------------------------------

    def sign_in_form(self, request: Request) -> Response:
        if self.viewer(request) is not None:
            return RedirectResponse("/", 303)
        return self._sign_in_page(request, "", "", 200)

    def sign_in(self, request: Request) -> Response:
        check_same_origin(request)
        form = request.form()
        check_visitor_csrf(request, form)
        username = form.get(USERNAME, "")
        try:
            signed_in = self.accounts.sign_in(username, form.get(PASSWORD, ""), request.client)
        except (TooManyAttempts, HashingBusy) as error:
            status = 429 if isinstance(error, TooManyAttempts) else 503
            response = self._sign_in_page(request, username, str(error), status)
            response.headers.append(("Retry-After", str(error.retry_after_s)))  # RFC 9110 §10.2.3
            return response
        except WrongCredentials as error:
            return self._sign_in_page(request, username, str(error), UNPROCESSABLE)
        return self._signed_in_redirect(request, signed_in.token)

    def _sign_in_page(self, request: Request, username: str, error: str, status: int) -> Response:
        token, is_new = visitor_csrf_token(request)
        message = self.templates.render("form_error", message=error) if error else Markup("")
        content = self.templates.render(
            "signin", csrf_field=CSRF_FIELD, csrf_token=token, username=username, message=message
        )
        response = self.page(request, self.viewer(request), "Sign in", content, status)
        if is_new:
            set_csrf_cookie(response, request, token)
        return response

    def sign_out(self, request: Request) -> Response:
        check_same_origin(request)
        viewer = self.viewer(request)
        token = session_token(request)
        if viewer is not None and token is not None:
            check_session_csrf(viewer.session, request.form())
            self._end_session(token)
            logger.info("signed out %r", viewer.user.username)
        response = RedirectResponse("/", 303)
        clear_session_cookie(response, request)
        return response

    def _end_session(self, token: str) -> None:
        self.accounts.sign_out(token)
        if self.live is not None:  # its live pages stop too
            self.live.signed_out(token)

    def _signed_in_redirect(self, request: Request, token: str) -> Response:
        # A session from before this sign-in must not live on beside the new one.
        old_token = session_token(request)
        if old_token is not None:
            self._end_session(old_token)
        response = RedirectResponse("/", 303)
        set_session_cookie(response, request, token, int(self.settings.session_lifetime_s))
        return response

    # -- spending from the home page (the form behind the button; app.js uses the API) --

    def spend(self, request: Request) -> Response:
        check_same_origin(request)
        viewer = self.viewer(request)
        if viewer is None:
            return RedirectResponse("/signin", 303)
        check_session_csrf(viewer.session, request.form())
        try:
            usage = self.accounts.quota.spend(viewer.user.id, 1)
        except QuotaExceeded as error:
            return self._home_for(request, viewer, notice=str(error), status=QUOTA_EXCEEDED)
        if self.live is not None:
            self.live.spent(viewer.user.id, usage)
        return RedirectResponse("/", 303)

    def _home_for(
        self, request: Request, viewer: CurrentUser, *, notice: str, status: int = 200
    ) -> Response:
        usage = self.accounts.quota.usage(viewer.user.id)
        content = self.templates.render(
            "home_user",
            username=viewer.user.username,
            used=usage.credits_used,
            limit=usage.credits_limit,
            remaining=usage.credits_remaining,
            # The meter turns amber past half the credits, red past nine tenths.
            meter_low=usage.credits_limit // 2,
            meter_high=usage.credits_limit * 9 // 10,
            csrf_field=CSRF_FIELD,
            csrf_token=viewer.session.csrf_token,
            notice=notice,
        )
        return self.page(request, viewer, "Home", content, status)

    # -- error pages ---------------------------------------------------------------------

    def not_found(self, request: Request, error: HTTPError) -> Response:
        content = self.templates.render("not_found", path=request.raw_path)
        viewer = self._viewer_or_none(request)
        return self.page(
            request, viewer, "Page not found", content, 404, forget_stale_session=False
        )

    def error_page(self, request: Request, error: HTTPError) -> Response:
        """403 and 5xx as HTML; a 5xx shows no message (it would describe our inside)."""
        message = error.message if error.status < 500 else "Something went wrong on our side."
        content = self.templates.render(
            "error", status=error.status, reason=error.reason, message=message
        )
        viewer = self._viewer_or_none(request) if error.status < 500 else None
        # A 500 (say, the database briefly failing) must not sign anyone out.
        return self.page(
            request, viewer, error.reason, content, error.status, forget_stale_session=False
        )

    # -- layout ----------------------------------------------------------------------------

    def viewer(self, request: Request) -> CurrentUser | None:
        """The signed-in user, or None (no cookie, unknown, expired or revoked session)."""
        return current_viewer(self.accounts, request)

    def page(
        self,
        request: Request,
        viewer: CurrentUser | None,
        title: str,
        content: Markup,
        status: int = 200,
        *,
        forget_stale_session: bool = True,
    ) -> HTMLResponse:
        """`content` inside the shared layout and navigation.

        `viewer` must come from `self.viewer(request)`: when it is None but a session
        cookie was sent, that cookie is stale (expired or revoked) and is cleared,
        unless `forget_stale_session` is False (pages drawn when the lookup failed).
        """
        if viewer is None:
            nav = self.templates.render("nav_visitor")
        else:
            nav = self.templates.render(
                "nav_user",
                username=viewer.user.username,
                csrf_field=CSRF_FIELD,
                csrf_token=viewer.session.csrf_token,
            )
        body = self.templates.render("layout", title=title, nav=nav, content=content)
        response = HTMLResponse(str(body), status, list(PAGE_HEADERS))
        if forget_stale_session and viewer is None and has_session_cookie(request):
            clear_session_cookie(response, request)  # expired or revoked: stop sending it
        return response

    def _viewer_or_none(self, request: Request) -> CurrentUser | None:
        try:
            return self.viewer(request)
        except Exception:  # an error page must render even when storage is failing
            logger.exception("could not look up the session for an error page")
            return None


def _aria_invalid(field: str, validation: ValidationResult) -> Markup:
    return Markup('aria-invalid="true"') if validation.messages(field) else Markup("")
