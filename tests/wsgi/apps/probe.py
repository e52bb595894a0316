"""A raw WSGI application with one path per hosting behaviour under test.

Served by ``barehttp wsgi tests.wsgi.apps.probe:app`` or in-process through
``make_app(marker_dir)``. ``close()`` of every iterable that takes a ``token``
query parameter writes ``marker_dir/token``, so a test in another process can
tell that the server called it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.types import StartResponse, WSGIApplication

Environ = dict[str, Any]
JSON = [("Content-Type", "application/json")]
TEXT = [("Content-Type", "text/plain; charset=utf-8")]
SECRET = "probe-secret-that-must-not-leak"  # the message of every deliberate exception
MARKER_DIR_VARIABLE = "BAREHTTP_TEST_MARKERS"
READ_PIECE_BYTES = 65_536


class Closing:
    """An iterable over ``parts`` whose close() is recorded as a marker file."""

    def __init__(self, parts: Iterable[bytes], marker: Path | None) -> None:
        self._parts = iter(parts)
        self._marker = marker

    def __iter__(self) -> Iterator[bytes]:
        return self._parts

    def close(self) -> None:
        close = getattr(self._parts, "close", None)
        if close is not None:
            close()
        if self._marker is not None:
            self._marker.write_text("closed")


def describe_environ(environ: Environ) -> dict[str, object]:
    """The environ as JSON: str/bool/int/tuple values as-is, others by capability."""
    described: dict[str, object] = {}
    for key, value in environ.items():
        if isinstance(value, (str, bool, int, tuple)):
            described[key] = value
        else:
            described[key] = type(value).__name__
    errors = environ.get("wsgi.errors")
    described["wsgi.errors:can_write"] = all(
        callable(getattr(errors, name, None)) for name in ("write", "writelines", "flush")
    )
    described["pid"] = os.getpid()
    return described


def make_app(marker_dir: Path | None) -> WSGIApplication:
    """The probe application; markers go to ``marker_dir`` (None: not recorded)."""

    def marker(query: dict[str, list[str]]) -> Path | None:
        token = query.get("token", [""])[0]
        if marker_dir is None or not token.isalnum():
            return None
        return marker_dir / token

    def number(query: dict[str, list[str]], name: str, default: float) -> float:
        return float(query.get(name, [str(default)])[0])

    def as_json(
        start_response: StartResponse, value: object, status: str = "200 OK"
    ) -> list[bytes]:
        body = json.dumps(value).encode()
        start_response(status, [*JSON, ("Content-Length", str(len(body)))])
        return [body]

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ["PATH_INFO"]
        query = parse_qs(environ["QUERY_STRING"])
        stream = environ["wsgi.input"]

        if path == "/pid":
            return as_json(start_response, {"pid": os.getpid()})
        if path == "/slow":
            started = marker(query)
            if started is not None:  # tells a test that the request is in the app now
                started.with_name(started.name + "-started").write_text("started")
            time.sleep(number(query, "seconds", 1.0))
            return as_json(start_response, {"pid": os.getpid()})
        if path in ("", "/environ") or path.startswith(("/environ/", "/caf")):
            return as_json(start_response, describe_environ(environ))

        if path == "/echo":
            # Reads in pieces, never the whole body: what a careful application does.
            time.sleep(number(query, "delay", 0.0))  # lets a test see that 100 waits
            digest = hashlib.sha256()
            length = 0
            while piece := stream.read(READ_PIECE_BYTES):
                digest.update(piece)
                length += len(piece)
            return as_json(start_response, {"length": length, "sha256": digest.hexdigest()})
        if path == "/read-past-end":
            body = stream.read(int(environ.get("CONTENT_LENGTH") or 0) or READ_PIECE_BYTES)
            while piece := stream.read(READ_PIECE_BYTES):
                body += piece
            after = [stream.read(10), stream.read(READ_PIECE_BYTES), stream.readline(5)]
            return as_json(
                start_response,
                {"body": body.decode("latin-1"), "after": [p.decode("latin-1") for p in after]},
            )
        if path == "/readline":
            size = int(number(query, "size", -1))
            lines = []
            while line := stream.readline(size):
                lines.append(line.decode("latin-1"))
            return as_json(start_response, {"lines": lines})
        if path == "/first-bytes":
            # Answers after reading a few bytes: proves the body is read on demand.
            data = stream.read(int(number(query, "count", 10)))
            start_response("200 OK", [*TEXT, ("Content-Length", str(len(data)))])
            return [data]
        if path == "/no-read":
            start_response("200 OK", [*TEXT, ("Content-Length", "7")])
            return [b"no-read"]
        if path == "/upload-stream":
            # Reads the body while the server iterates, so close() follows any read error.
            start_response("200 OK", TEXT)
            return Closing(iter(lambda: stream.read(READ_PIECE_BYTES), b""), marker(query))

        if path == "/stream":
            count = int(number(query, "count", 5))
            delay = number(query, "delay", 0.0)

            def parts() -> Iterator[bytes]:
                for index in range(count):
                    if delay:
                        time.sleep(delay)
                    yield b"part %d\n" % index

            start_response("200 OK", TEXT)
            return Closing(parts(), marker(query))
        if path == "/length":
            declared = query["declared"][0]
            actual = int(query["actual"][0])
            start_response("200 OK", [*TEXT, ("Content-Length", declared)])
            return Closing((b"x" for _ in range(actual)), marker(query))
        if path == "/write":
            write = start_response("200 OK", TEXT)
            write(b"written-1;")
            write(b"written-2;")
            return [b"returned"]
        if path == "/file":
            wrapper: Callable[[Any], Iterable[bytes]] = environ["wsgi.file_wrapper"]
            file_path = query["path"][0]
            headers = list(TEXT)
            if "length" in query:
                headers.append(("Content-Length", query["length"][0]))
            start_response("200 OK", headers)
            return wrapper(open(file_path, "rb"))  # the wrapper closes it

        if path == "/raise-before":
            raise RuntimeError(SECRET)
        if path == "/raise-mid":

            def failing() -> Iterator[bytes]:
                yield b"first part\n"
                raise RuntimeError(SECRET)

            start_response("200 OK", TEXT)
            return Closing(failing(), marker(query))
        if path == "/start-twice":
            start_response("200 OK", TEXT)
            start_response("201 Created", TEXT)
            return [b"should not be sent"]
        if path == "/exc-info-before":
            start_response("200 OK", TEXT)
            try:
                raise ValueError(SECRET)
            except ValueError:
                start_response("503 Service Unavailable", TEXT, sys.exc_info())
            return [b"replaced by the error page"]
        if path == "/exc-info-after":

            def late_error() -> Iterator[bytes]:
                yield b"headers are out\n"
                try:
                    raise ValueError(SECRET)
                except ValueError:
                    start_response("500 Internal Server Error", TEXT, sys.exc_info())
                yield b"never sent\n"

            start_response("200 OK", TEXT)
            return late_error()
        if path == "/hop-by-hop":
            name = query.get("name", ["Connection"])[0]
            start_response("200 OK", [*TEXT, (name, "close")])
            return [b"should not be sent"]
        start_response("404 Not Found", [*TEXT, ("Content-Length", "9")])
        return [b"not found"]

    return app


def _marker_dir_from_environment() -> Path | None:
    value = os.environ.get(MARKER_DIR_VARIABLE)
    return Path(value) if value else None


app = make_app(_marker_dir_from_environment())


def create_app() -> WSGIApplication:
    """Factory form, for ``probe:create_app()``."""
    return make_app(_marker_dir_from_environment())
