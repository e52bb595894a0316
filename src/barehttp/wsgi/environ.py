"""Building the WSGI ``environ`` dictionary (PEP 3333 §"environ Variables")."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import unquote_to_bytes

from barehttp.server.handler import Exchange
from barehttp.wsgi.file_wrapper import FileWrapper
from barehttp.wsgi.input import WSGIInput

Environ = dict[str, Any]

# Header names the environ carries without the HTTP_ prefix (PEP 3333).
_UNPREFIXED = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
_header_keys: dict[str, str | None] = {}
_UNKNOWN = "?"  # not a key environ_key() returns: a name not cached yet


def environ_key(name: str) -> str | None:
    """The environ key for a header name, or None when it must be dropped.

    A name with ``_`` is dropped: ``X-User_Id`` and ``X-User-Id`` would both
    become ``HTTP_X_USER_ID``, letting a client impersonate a header that a
    proxy in front of us sets (the same rule as nginx and gunicorn).
    """
    key = _header_keys.get(name)
    if key is None and name not in _header_keys:
        if "_" in name:
            key = None
        else:
            key = _UNPREFIXED.get(name) or "HTTP_" + name.upper().replace("-", "_")
        if len(_header_keys) < 1_024:  # names are client-chosen: bound the cache
            _header_keys[name] = key
    return key


def base_environ(*, multiprocess: bool, root_path: str) -> Environ:
    """The keys that are the same for every request of one server."""
    return {
        "wsgi.version": (1, 0),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "SCRIPT_NAME": root_path,
    }


def build_environ(exchange: Exchange, base: Environ) -> Environ:
    """The environ for one request, from ``base`` plus the request's own keys."""
    head = exchange.head
    environ = base.copy()
    root_path: str = base["SCRIPT_NAME"]
    # PEP 3333: PATH_INFO is percent-decoded, its bytes carried as latin-1 "bytes as str".
    # head.path already is such a str: back to its bytes with latin-1, not UTF-8.
    path = head.path
    if "%" in path:
        path = unquote_to_bytes(path.encode("latin-1")).decode("latin-1")
    if root_path and (path == root_path or path.startswith(root_path + "/")):
        path = path[len(root_path) :]
    server_address = exchange.server_address
    server_host, server_port = server_address[0], server_address[1]
    environ["REQUEST_METHOD"] = head.method
    environ["PATH_INFO"] = path
    environ["QUERY_STRING"] = head.query
    environ["SERVER_NAME"] = server_host
    environ["SERVER_PORT"] = str(server_port)
    environ["SERVER_PROTOCOL"] = head.http_version
    environ["REMOTE_ADDR"] = exchange.client_address[0]
    environ["REMOTE_PORT"] = str(exchange.client_address[1])
    environ["wsgi.url_scheme"] = exchange.scheme
    environ["wsgi.input"] = WSGIInput(exchange)
    if head.chunked:
        # The body length is unknown; frameworks (Werkzeug) read to the end on this flag.
        environ["wsgi.input_terminated"] = True
    if head.content_length is not None:
        # The length the body was framed with: "3" for "Content-Length: 3, 3" (RFC 9112
        # §6.3 accepts a list of one repeated value), never the field as sent.
        environ["CONTENT_LENGTH"] = str(head.content_length)
    known_key = _header_keys.get  # the cache first: no call per field once names are known
    for name, value in head.headers:
        key = known_key(name, _UNKNOWN)
        if key is _UNKNOWN:
            key = environ_key(name)
        if key is None or key == "CONTENT_LENGTH":
            continue
        previous = environ.get(key)
        if previous is not None and key.startswith("HTTP_"):
            # RFC 9110 §5.3: repeated fields combine with ", "; cookies with "; "
            # (RFC 6265 §5.4), since a cookie value may itself hold a comma.
            value = previous + ("; " if key == "HTTP_COOKIE" else ", ") + value
        environ[key] = value
    return environ
