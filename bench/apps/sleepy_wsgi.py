"""WSGI hello that blocks in ``time.sleep`` on a share of requests: ``sleepy_wsgi:app``.

A stand-in for a handler waiting on a database or another service. Every
``SLEEP_EVERY``-th request (environment, default 10: 10%) sleeps
``SLEEP_MS`` milliseconds (default 20) before answering.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from hello import BODY, CONTENT_TYPE

_HEADERS = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(BODY)))]
_EVERY = int(os.environ.get("SLEEP_EVERY", "10"))
_SLEEP_S = int(os.environ.get("SLEEP_MS", "20")) / 1000
_COUNTER = itertools.count()  # next() on it is atomic under the GIL

StartResponse = Callable[[str, list[tuple[str, str]]], Callable[[bytes], object]]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if next(_COUNTER) % _EVERY == 0:
        time.sleep(_SLEEP_S)
    start_response("200 OK", list(_HEADERS))
    return [BODY]
