"""Minimal WSGI static-file app for waitress in the static suite: ``static_wsgi:app``.

Serves the regular files directly in ``$BENCH_DOCROOT`` (listed once at import,
so no request path ever reaches the file system) with ``wsgi.file_wrapper``,
as a WSGI app serving files should. 404 for anything else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

StartResponse = Callable[[str, list[tuple[str, str]]], Callable[[bytes], object]]

_ROOT = Path(os.environ["BENCH_DOCROOT"])
_FILES = {f"/{path.name}": path for path in _ROOT.iterdir() if path.is_file()}
_NOT_FOUND = b"Not Found"


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """GET a file of the docroot by its name; the body goes through ``wsgi.file_wrapper``."""
    path = _FILES.get(environ.get("PATH_INFO", ""))
    if path is None:
        start_response(
            "404 Not Found",
            [("Content-Type", "text/plain"), ("Content-Length", str(len(_NOT_FOUND)))],
        )
        return [_NOT_FOUND]
    file = path.open("rb")
    size = os.fstat(file.fileno()).st_size
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))],
    )
    wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](file)
    return wrapper
