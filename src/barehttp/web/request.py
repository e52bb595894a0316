"""Request: a lazily parsed, cached view of one Exchange."""

from __future__ import annotations

import json
from functools import cached_property
from typing import NoReturn
from urllib.parse import parse_qs, unquote_to_bytes

from barehttp.protocol.errors import BadRequest, ContentTooLarge, HTTPError
from barehttp.protocol.headers import Headers
from barehttp.protocol.limits import Limits
from barehttp.server.handler import ClientDisconnected, Exchange
from barehttp.web.cookies import parse_cookie_header
from barehttp.web.errors import UnsupportedMediaType
from barehttp.web.forms import DEFAULT_MAX_FIELDS, MultiDict, parse_urlencoded
from barehttp.web.json_value import JSONValue

DEFAULT_MAX_BODY_BYTES = Limits().max_body_bytes
_READ_BYTES = Limits().recv_bytes  # one read_body call: the server's recv size


class Request:
    """What a handler sees of a request. Everything is parsed on first use and cached.

    ``params`` holds the values of the route's ``{name}`` segments; the router sets it.
    """

    def __init__(
        self,
        exchange: Exchange,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_form_fields: int = DEFAULT_MAX_FIELDS,
    ) -> None:
        self.exchange = exchange
        self.params: dict[str, str] = {}
        self._max_body_bytes = max_body_bytes
        self._max_form_fields = max_form_fields
        self._form: MultiDict | None = None
        self._json: tuple[JSONValue] | None = None  # a tuple, since None is valid JSON

    @property
    def method(self) -> str:
        return self.exchange.head.method

    @property
    def raw_path(self) -> str:
        """The path as sent, still percent-encoded."""
        return self.exchange.head.path

    @property
    def query_string(self) -> str:
        return self.exchange.head.query

    @property
    def headers(self) -> Headers:
        return self.exchange.head.headers

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased (RFC 9110 §8.3.1); "" if absent."""
        return (self.headers.get("content-type") or "").partition(";")[0].strip(" \t").lower()

    @property
    def client_address(self) -> tuple[str, int]:
        """(address, port) of the client; behind a trusted proxy, the port is 0."""
        return self.exchange.client_address

    @property
    def client(self) -> str:
        """The client's address: the peer's, or what trusted proxies report."""
        return self.exchange.client_address[0]

    @property
    def is_tls(self) -> bool:
        """True when this connection is TLS (see ``scheme`` for what the client used)."""
        return self.exchange.is_tls

    @property
    def scheme(self) -> str:
        """ "https" or "http" as the client used it, behind trusted proxies too."""
        return self.exchange.scheme

    @property
    def is_secure(self) -> bool:
        return self.exchange.scheme == "https"

    @property
    def host(self) -> str:
        """The Host field, or the server's own address for HTTP/1.0 requests without one."""
        host = self.headers.get("host")
        if host:
            return host
        address, port = self.exchange.server_address
        return f"{address}:{port}"

    @cached_property
    def path(self) -> str:
        """The path percent-decoded exactly once, as UTF-8.

        Raises:
            BadRequest: if the decoded bytes are not UTF-8 or contain NUL.
        """
        # latin-1 recovers the bytes the parser decoded; see RequestHead.target.
        decoded = unquote_to_bytes(self.raw_path.encode("latin-1"))
        if b"\x00" in decoded:  # would truncate or crash file-system calls downstream
            raise BadRequest("request path contains NUL")
        try:
            return decoded.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("request path is not valid UTF-8") from None

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    @cached_property
    def cookies(self) -> dict[str, str]:
        return parse_cookie_header("; ".join(self.headers.get_all("cookie")))

    @cached_property
    def body(self) -> bytes:
        """The whole request body, read on first use.

        Raises:
            ContentTooLarge: past ``max_body_bytes``; the connection is then closed,
                since the rest of the body is still unread on it.
        """
        declared = self.exchange.head.content_length
        if declared is not None and declared > self._max_body_bytes:
            # Refuse before reading, so a client expecting 100-continue never sends it.
            self._refuse_body()
        chunks: list[bytes] = []
        received = 0
        while chunk := self._read_chunk(min(_READ_BYTES, self._max_body_bytes - received + 1)):
            received += len(chunk)
            if received > self._max_body_bytes:  # chunked bodies declare no length
                self._refuse_body()
            chunks.append(chunk)
        return b"".join(chunks)

    def form(self) -> MultiDict:
        """Fields of an ``application/x-www-form-urlencoded`` body.

        Raises:
            UnsupportedMediaType: for a non-empty body of another type (multipart too).
            BadRequest: on malformed encoding or too many fields.
        """
        if self._form is None:
            if self.media_type != "application/x-www-form-urlencoded" and self.body:
                raise UnsupportedMediaType("expected application/x-www-form-urlencoded")
            self._form = parse_urlencoded(self.body, max_fields=self._max_form_fields)
        return self._form

    def json(self) -> JSONValue:
        """The body decoded as JSON (RFC 8259).

        Raises:
            UnsupportedMediaType: unless Content-Type is ``application/json`` or ``*+json``.
                Requiring it is a CSRF defence: cross-site forms cannot send it
                without a CORS preflight.
            BadRequest: on invalid UTF-8, invalid JSON, NaN/Infinity, or absurd nesting.
        """
        if self._json is None:
            media_type = self.media_type
            if media_type != "application/json" and not media_type.endswith("+json"):
                raise UnsupportedMediaType("expected application/json")
            try:
                value = json.loads(self.body.decode("utf-8"), parse_constant=_reject_constant)
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                raise BadRequest("request body is not valid JSON") from None
            self._json = (value,)
        return self._json[0]

    def _read_chunk(self, max_bytes: int) -> bytes:
        try:
            return self.exchange.read_body(max_bytes)
        except HTTPError:
            # Bad framing or a timeout: where the next request starts is unknown.
            self.exchange.close_connection()
            raise
        except OSError as error:  # reset mid-body: the client's doing, not the handler's
            raise ClientDisconnected(f"client went away mid-body: {error}") from error

    def _refuse_body(self) -> NoReturn:
        self.exchange.close_connection()
        raise ContentTooLarge(f"request body exceeds {self._max_body_bytes} bytes")

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.raw_path!r}>"


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # RFC 8259 §6 has no NaN or Infinity
