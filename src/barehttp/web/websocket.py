"""WebSocket routes of barehttp.web: ``@app.websocket(pattern)`` and the ``WebSocket`` handlers get.

A handler is called in a worker thread with a ``WebSocket`` still in its opening
handshake. It either refuses (returns, or raises, before ``accept()``: HTTP 403,
RFC 6455 §4.2.2 lets any status but 101 refuse) or accepts, then:

* blocking: ``receive()`` / ``send_text()`` / ``send_bytes()`` / ``close()`` until
  done; returning closes the WebSocket with 1000, an exception with 1011;
* parked: registers ``on_message`` / ``on_close`` callbacks and returns. The
  connection stays open with no thread; each message runs the callback on the
  worker pool, one at a time and in order. ``send_*`` work from any thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.headers import Headers
from barehttp.protocol.websocket_errors import CloseCode, UpgradeRequired
from barehttp.protocol.websocket_handshake import (
    UpgradeRequest,
    accept_upgrade,
    is_upgrade_request,
    parse_upgrade_request,
)
from barehttp.server.exchange import ServerExchange
from barehttp.server.handler import Exchange
from barehttp.server.websocket_owner import (
    CloseCallback,
    Message,
    MessageCallback,
    WebSocketClosed,
)
from barehttp.server.websocket_session import WebSocketSession
from barehttp.server.websocket_upgrade import accept_websocket, websocket_limits
from barehttp.web.request import Request
from barehttp.web.response import Response

logger = logging.getLogger("barehttp.web")

__all__ = ["WebSocket", "WebSocketClosed", "WebSocketHandler", "websocket_endpoint"]

WebSocketHandler = Callable[["WebSocket"], None]


class WebSocket:
    """One WebSocket: the request that opened it, then its messages."""

    def __init__(self, request: Request, upgrade: UpgradeRequest, exchange: ServerExchange) -> None:
        self.request = request
        self._upgrade = upgrade
        self._exchange = exchange
        self._session: WebSocketSession | None = None
        self.subprotocol: str | None = None  # the one accepted, if any
        self._on_message: MessageCallback | None = None
        self._on_close: CloseCallback | None = None

    # -- the opening request --------------------------------------------------------

    @property
    def params(self) -> dict[str, str]:
        """The route's ``{name}`` values."""
        return self.request.params

    @property
    def headers(self) -> Headers:
        return self.request.headers

    @property
    def cookies(self) -> dict[str, str]:
        return self.request.cookies

    @property
    def subprotocols(self) -> tuple[str, ...]:
        """Sec-WebSocket-Protocol values the client offered, in its order."""
        return self._upgrade.subprotocols

    # -- the connection ------------------------------------------------------------------

    @property
    def is_accepted(self) -> bool:
        return self._session is not None

    @property
    def is_open(self) -> bool:
        return self._session is not None and self._session.is_open

    @property
    def is_parked(self) -> bool:
        """True once a callback is registered: the WebSocket outlives its handler."""
        return self._on_message is not None or self._on_close is not None

    def accept(
        self, subprotocol: str | None = None, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Answer 101 (RFC 6455 §4.2.2); ``subprotocol`` must be one the client offered.

        permessage-deflate (RFC 7692) is agreed when the client offers it.
        """
        if self._session is not None:
            raise RuntimeError("accept() called twice")
        acceptance = accept_upgrade(
            self._upgrade,
            subprotocol=subprotocol,
            limits=websocket_limits(self._exchange),
            extra_fields=headers,
        )
        self._session = accept_websocket(self._exchange, acceptance)
        self.subprotocol = subprotocol

    def _open_session(self) -> WebSocketSession:
        if self._session is None:
            raise RuntimeError("accept() the WebSocket first")
        return self._session

    def receive(self) -> Message:
        """The next message (``str`` for text, ``bytes`` for binary), waiting for it.

        Raises:
            WebSocketClosed: the peer closed (its ``code`` and ``reason``), the
                connection failed (the close code sent, e.g. 1002, 1007, 1009) or
                was dropped (1006).
        """
        return self._open_session().receive()

    def send_text(self, text: str) -> None:
        """Send a text message; never waits on the peer. Raises WebSocketClosed."""
        self._open_session().send_text(text)

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message; never waits on the peer. Raises WebSocketClosed."""
        self._open_session().send_bytes(data)

    def close(self, code: int = CloseCode.NORMAL_CLOSURE, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 §7.1.2); no-op once closing or closed."""
        self._open_session().close(code, reason)

    def on_message(self, callback: MessageCallback) -> MessageCallback:
        """Run ``callback(message)`` on the worker pool for each message (parked mode).

        Usable as a decorator. Messages received before it are delivered first.
        """
        self._on_message = callback
        self._park()
        return callback

    def on_close(self, callback: CloseCallback) -> CloseCallback:
        """Run ``callback(code, reason)`` on the worker pool once the WebSocket is closed.

        Usable as a decorator. A close that came before it is delivered to it.
        """
        self._on_close = callback
        self._park()
        return callback

    def _park(self) -> None:
        self._open_session().park(self._on_message, self._on_close)


def websocket_endpoint(handler: WebSocketHandler) -> Callable[[Request], Response]:
    """A route handler that checks the opening handshake and runs ``handler``.

    A request without ``Upgrade: websocket`` gets 426 naming the protocol (RFC 9110
    §15.5.22); a malformed handshake 400; another version 426 with
    ``Sec-WebSocket-Version: 13`` (RFC 6455 §4.4).
    """

    def answer(request: Request) -> Response:
        head = request.exchange.head
        if not is_upgrade_request(head):
            return Response.text(
                "426 Upgrade Required\nthis address speaks WebSocket only\n",
                426,
                [*UpgradeRequired.headers],
            )
        try:
            upgrade = parse_upgrade_request(head)  # BadUpgrade: 400 through the error pages
        except UpgradeRequired as error:
            return Response.text(f"426 Upgrade Required\n{error.message}\n", 426, [*error.headers])
        if not isinstance(request.exchange, ServerExchange):
            raise HTTPError("this server cannot switch to WebSocket")
        return _Upgrade(handler, request, upgrade)

    return answer


class _Upgrade(Response):
    """The "response" of a WebSocket route: sending it runs the handler (see module)."""

    def __init__(
        self, handler: WebSocketHandler, request: Request, upgrade: UpgradeRequest
    ) -> None:
        super().__init__(b"", 101)
        self._handler = handler
        self._request = request
        self._upgrade = upgrade

    def send(self, exchange: Exchange) -> None:
        assert isinstance(exchange, ServerExchange)
        websocket = WebSocket(self._request, self._upgrade, exchange)
        try:
            self._handler(websocket)
        except WebSocketClosed:
            pass  # the peer left: a normal end for a handler that did not catch it
        except Exception:
            if websocket.is_accepted:
                logger.exception("WebSocket handler failed for %s", self._request)
                _close_quietly(websocket, CloseCode.INTERNAL_ERROR)
                return
            logger.exception("WebSocket handler failed before accept for %s", self._request)
        if not websocket.is_accepted:
            _refuse(exchange)
        elif not websocket.is_parked:
            _close_quietly(websocket, CloseCode.NORMAL_CLOSURE)


def _refuse(exchange: ServerExchange) -> None:
    # RFC 6455 §4.2.2: any status but 101 refuses; 403 as ASGI servers answer.
    exchange.close_connection()
    exchange.send_response(403, [("Content-Type", "text/plain; charset=utf-8")], b"403 Forbidden\n")


def _close_quietly(websocket: WebSocket, code: int) -> None:
    try:
        websocket.close(code)
    except (WebSocketClosed, OSError):
        pass
