"""The interface between the server and whatever answers requests."""

from __future__ import annotations

from typing import BinaryIO, Protocol

from barehttp.protocol.events import RequestHead


class ClientDisconnected(ConnectionError):
    """The client's connection failed while a handler read or wrote it.

    Layers above the server raise it from the socket's `OSError`, so that "the client
    went away" is never confused with an `OSError` of the application itself (a
    missing file, a refused database connection), which is a logged 500. Being an
    `OSError`, the server handles it like any socket error: it closes the connection.
    """


class Exchange(Protocol):
    """One request and the means to answer it.

    A handler answers either with :meth:`send_response` (a complete response,
    written in one send), or with :meth:`start_response` followed by
    :meth:`write` / :meth:`send_file` calls and :meth:`end`. If the handler
    returns without answering, the server answers 500.
    """

    head: RequestHead
    client_address: tuple[str, int]
    server_address: tuple[str, int]
    is_tls: bool  # this connection is TLS
    # "https" or "http" as the client used it: TLS here, or what a trusted proxy reports
    scheme: str

    @property
    def headers_sent(self) -> bool:
        """True once the status line and headers were written."""
        ...

    def read_body(self, max_bytes: int = 65_536) -> bytes:
        """Up to ``max_bytes`` of the request body, ``b""`` at its end.

        Sends ``100 Continue`` first if the client asked for it.
        Raises ``HTTPError`` subclasses on bad framing or timeouts.
        """
        ...

    def send_response(self, status: int, headers: list[tuple[str, str]], body: bytes = b"") -> None:
        """Write a complete response; ``Content-Length`` is added."""
        ...

    def start_response(
        self, status: int, headers: list[tuple[str, str]], content_length: int | None = None
    ) -> None:
        """Write status and headers; without ``content_length`` the body is chunked."""
        ...

    def write(self, data: bytes) -> None:
        """Write body bytes after :meth:`start_response`."""
        ...

    def send_file(self, file: BinaryIO, offset: int, count: int) -> None:
        """Write ``count`` bytes of ``file`` from ``offset`` (zero-copy where possible)."""
        ...

    def end(self) -> None:
        """Finish a streamed response."""
        ...

    def close_connection(self) -> None:
        """Ask that the connection close after this response."""
        ...


class Handler(Protocol):
    """Anything that answers requests: called once per request, in a worker thread."""

    def __call__(self, exchange: Exchange) -> None: ...
