"""App: the server's Handler; routes requests and turns exceptions into error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.limits import Limits
from barehttp.server.handler import ClientDisconnected, Exchange
from barehttp.web.errors import MethodNotAllowed
from barehttp.web.forms import DEFAULT_MAX_FIELDS
from barehttp.web.request import Request
from barehttp.web.response import Response
from barehttp.web.router import RequestHandler, Router
from barehttp.web.websocket import WebSocketHandler, websocket_endpoint

logger = logging.getLogger("barehttp.web")

ErrorHandler = Callable[[Request, HTTPError], Response]
ResponseHook = Callable[[Request, Response], None]
HandlerT = TypeVar("HandlerT", bound=RequestHandler)
WebSocketHandlerT = TypeVar("WebSocketHandlerT", bound=WebSocketHandler)
ErrorHandlerT = TypeVar("ErrorHandlerT", bound=ErrorHandler)


class App:
    """Routes each request to a ``(Request) -> Response`` function.

    An ``HTTPError`` from a handler becomes that status with a short page; a
    ``ClientDisconnected`` (the client reset the connection while the handler read
    the body) goes to the server, which closes the connection; any
    other exception is logged with its traceback on ``barehttp.web`` and becomes a
    500 that reveals nothing. ``error_handler`` replaces the page for a status.
    """

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        router: Router | None = None,
        max_form_fields: int = DEFAULT_MAX_FIELDS,
    ) -> None:
        # app.run() serves with these; the body cap a request gets is the server's
        # max_body_bytes, or this app's when it was given and is stricter (one cap: the
        # server's parser refuses anything above its own anyway).
        self.limits = limits or Limits()
        self._max_body_bytes = limits.max_body_bytes if limits is not None else None
        self.router = router or Router()
        self._max_form_fields = max_form_fields
        self._error_handlers: dict[int, ErrorHandler] = {}
        self._response_hooks: list[ResponseHook] = []

    def _body_cap(self, exchange: Exchange) -> int:
        server_cap: int | None = getattr(exchange, "max_body_bytes", None)  # ServerExchange
        own = self._max_body_bytes
        if server_cap is None:
            return self.limits.max_body_bytes
        return server_cap if own is None else min(own, server_cap)

    def add_route(
        self, methods: str | Iterable[str], pattern: str, handler: RequestHandler
    ) -> None:
        self.router.add(methods, pattern, handler)

    def route(self, methods: str | Iterable[str], pattern: str) -> Callable[[HandlerT], HandlerT]:
        def register(handler: HandlerT) -> HandlerT:
            self.router.add(methods, pattern, handler)
            return handler

        return register

    def get(self, pattern: str) -> Callable[[HandlerT], HandlerT]:
        return self.route("GET", pattern)

    def post(self, pattern: str) -> Callable[[HandlerT], HandlerT]:
        return self.route("POST", pattern)

    def websocket(self, pattern: str) -> Callable[[WebSocketHandlerT], WebSocketHandlerT]:
        """Register ``(WebSocket) -> None`` for WebSocket upgrades of ``pattern``
        (see web/websocket.py); other requests to it get 426 or 400."""

        def register(handler: WebSocketHandlerT) -> WebSocketHandlerT:
            self.router.add("GET", pattern, websocket_endpoint(handler))
            return handler

        return register

    def mount(self, prefix: str, handler: RequestHandler) -> None:
        self.router.mount(prefix, handler)

    def error_handler(self, status: int) -> Callable[[ErrorHandlerT], ErrorHandlerT]:
        """Register ``(request, error) -> Response`` for errors with this status."""

        def register(handler: ErrorHandlerT) -> ErrorHandlerT:
            self._error_handlers[status] = handler
            return handler

        return register

    def before_send(self, hook: ResponseHook) -> ResponseHook:
        """Run ``hook(request, response)`` on every response, error pages included,
        just before it is sent (e.g. to add a header every response must carry)."""
        self._response_hooks.append(hook)
        return hook

    def __call__(self, exchange: Exchange) -> None:
        request = Request(
            exchange,
            max_body_bytes=self._body_cap(exchange),
            max_form_fields=self._max_form_fields,
        )
        try:
            response = self.router(request)
            if not isinstance(response, Response):
                raise TypeError(f"handler returned {type(response).__name__}, not a Response")
        except ClientDisconnected:
            raise  # no one to answer, and no fault of the handler: the server closes
        except Exception as error:
            response = self._error_response(request, error)
        self._run_hooks(request, response)
        try:
            response.send(exchange)
        except OSError:
            raise  # the connection failed: the server's to log and clean up
        except Exception as error:
            if exchange.headers_sent:
                # Too late for an error page. Closing without the last chunk tells
                # the client the body is truncated rather than complete.
                logger.error("response to %s failed mid-body", request, exc_info=error)
                exchange.close_connection()
                return
            fallback = self._error_response(request, error)
            self._run_hooks(request, fallback)
            fallback.send(exchange)

    def _run_hooks(self, request: Request, response: Response) -> None:
        for hook in self._response_hooks:
            hook(request, response)

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        access_log: bool = True,
        on_shutdown: list[Callable[[], None]] | None = None,
    ) -> None:
        """Serve this app until SIGINT/SIGTERM, with this app's ``limits``.

        ``on_shutdown`` functions run once the server has drained (e.g. closing storage).
        """
        # Imported here: only running needs the server's sockets and threads.
        from barehttp.server.serve import serve

        serve(
            self,
            host=host,
            port=port,
            limits=self.limits,
            access_log=access_log,
            on_shutdown=on_shutdown,
        )

    def _error_response(self, request: Request, error: Exception) -> Response:
        if not isinstance(error, HTTPError):
            logger.error("unhandled exception answering %s", request, exc_info=error)
            error = HTTPError()  # a fresh 500: the exception's text may hold secrets
        response = None
        custom = self._error_handlers.get(error.status)
        if custom is not None:
            try:
                response = custom(request, error)
            except Exception:
                logger.exception("error handler for %d failed", error.status)
        if response is None:
            response = render_error_page(error)
        if isinstance(error, MethodNotAllowed) and response.get_header("allow") is None:
            response.headers.append(("Allow", ", ".join(error.allowed_methods)))
        return response


def render_error_page(error: HTTPError) -> Response:
    """A plain-text page: nothing in it can run as script, whatever the message holds.

    Like the server's own error bodies, a 5xx page shows only its status (501, 503
    and 505 excepted): those messages describe the server's inside, not the request.
    """
    text = f"{error.status} {error.reason}\n"
    is_internal = error.status >= 500 and error.status not in (501, 503, 505)
    if error.message != error.reason and not is_internal:
        text += f"{error.message}\n"
    headers = [("X-Content-Type-Options", "nosniff")]  # no sniffing it into HTML
    return Response.text(text, error.status, headers)
