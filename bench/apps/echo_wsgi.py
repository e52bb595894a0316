"""WSGI app reading the whole request body: ``echo_wsgi:app`` (bench/hostile.py).

``GET``: the hello body. Any request with a body: reads it all, answers its length.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hello import BODY, CONTENT_TYPE

StartResponse = Callable[[str, list[tuple[str, str]]], Callable[[bytes], object]]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = BODY
    if length:
        stream = environ["wsgi.input"]
        received = 0
        while chunk := stream.read(min(65_536, length - received)):
            received += len(chunk)
            if received >= length:
                break
        body = str(received).encode()
    start_response("200 OK", [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body)))])
    return [body]
