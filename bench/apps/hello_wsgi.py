"""WSGI hello-world for waitress (and any other WSGI peer): ``hello_wsgi:app``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hello import BODY, CONTENT_TYPE

_HEADERS = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(BODY)))]

StartResponse = Callable[[str, list[tuple[str, str]]], Callable[[bytes], object]]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Answer every request with the hello body; the path is not looked at, as in barehttp."""
    start_response("200 OK", list(_HEADERS))
    return [BODY]
