"""The built-in hello-world handler, used by benchmarks and smoke tests."""

from __future__ import annotations

from barehttp.server.handler import Exchange

HELLO_BODY = b"Hello, World!"
_HELLO_HEADERS = [("Content-Type", "text/plain; charset=utf-8")]


def hello(exchange: Exchange) -> None:
    """Answer every request with ``Hello, World!``."""
    exchange.send_response(200, _HELLO_HEADERS, HELLO_BODY)
