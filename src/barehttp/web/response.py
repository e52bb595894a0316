"""Response and its small subclasses; ``send`` writes one to an Exchange."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import ClassVar, TypeAlias
from urllib.parse import quote

from barehttp.protocol.writer import check_field
from barehttp.server.handler import Exchange
from barehttp.web.cookies import SameSite, format_set_cookie
from barehttp.web.json_value import JSONInput

Body: TypeAlias = bytes | Iterable[bytes]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Response:
    """A status, header fields, and a body that is complete or streamed.

    ``content`` may be ``bytes``, ``str`` (encoded as UTF-8), or an iterable of
    ``bytes`` sent with chunked coding as it is produced. Subclasses set only
    ``media_type`` or convert their content before calling ``__init__``.
    """

    media_type: ClassVar[str | None] = None

    def __init__(
        self,
        content: str | Body = b"",
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status = status
        self.headers: list[tuple[str, str]] = list(headers or [])
        if isinstance(content, str):
            media_type = media_type or self.media_type or "text/plain"
            content = content.encode("utf-8")
        self.body: Body = content
        media_type = media_type or self.media_type
        if media_type is not None and self.get_header("content-type") is None:
            if media_type.startswith("text/") and "charset" not in media_type:
                media_type += "; charset=utf-8"
            self.headers.append(("Content-Type", media_type))

    @staticmethod
    def text(
        content: str, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        return Response(content, status, headers, media_type="text/plain")

    def get_header(self, name: str) -> str | None:
        """The first value of a field, compared case-insensitively."""
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    def set_cookie(
        self,
        name: str,
        value: str,
        *,
        max_age: int | None = None,
        expires: datetime | None = None,
        path: str | None = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: SameSite | None = "Lax",
    ) -> None:
        """Add a Set-Cookie field; raises ``InvalidCookie`` rather than emit a malformed one."""
        field = format_set_cookie(
            name,
            value,
            max_age=max_age,
            expires=expires,
            path=path,
            domain=domain,
            secure=secure,
            httponly=httponly,
            samesite=samesite,
        )
        self.headers.append(("Set-Cookie", field))

    def delete_cookie(
        self, name: str, *, path: str | None = "/", domain: str | None = None, secure: bool = False
    ) -> None:
        """Expire a cookie; ``path`` and ``domain`` must match the ones it was set with."""
        self.set_cookie(
            name, "", max_age=0, expires=_EPOCH, path=path, domain=domain, secure=secure
        )

    def send(self, exchange: Exchange) -> None:
        """Write the response: in one send when complete, chunked when streamed.

        Raises:
            ValueError: if a header field could inject another field.
        """
        for name, value in self.headers:
            check_field(name, value)
        if isinstance(self.body, bytes):
            exchange.send_response(self.status, self.headers, self.body)
            return
        exchange.start_response(self.status, self.headers)
        try:
            if exchange.head.method != "HEAD":  # the server would discard it anyway
                for chunk in self.body:
                    if chunk:  # an empty chunk would read as the last-chunk (RFC 9112 §7.1)
                        exchange.write(chunk)
        finally:
            close = getattr(self.body, "close", None)
            if callable(close):  # let generators run their cleanup
                close()
        exchange.end()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status}>"


class HTMLResponse(Response):
    media_type = "text/html"


class JSONResponse(Response):
    media_type = "application/json"  # RFC 8259 §11: no charset parameter; always UTF-8

    def __init__(
        self, content: JSONInput, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> None:
        # allow_nan=False: NaN and Infinity are not JSON and break strict parsers.
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        super().__init__(text.encode("utf-8"), status, headers)


class RedirectResponse(Response):
    """Redirect to ``url``; 303 by default so a POST is followed by a GET (RFC 9110 §15.4.4)."""

    def __init__(
        self, url: str, status: int = 303, headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(b"", status, headers)
        # Percent-encode everything outside the URI characters, so a URL taken
        # from user input cannot carry CR/LF into the header section.
        self.headers.append(("Location", quote(url, safe=":/%#?=@[]!$&'()*+,;~")))
