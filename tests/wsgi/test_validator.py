"""wsgiref.validate wraps the probe app: no warnings, no assertion errors.

The server runs in-process so ``warnings.catch_warnings`` sees what the
validator reports from the worker threads; a validator assertion would show as
a 500 and a logged error.
"""

from __future__ import annotations

import http.client
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from wsgiref.validate import validator

import pytest

from barehttp.protocol.limits import Limits
from barehttp.server.server import Server
from barehttp.wsgi.adapter import WSGIHandler
from tests.wsgi.apps.probe import make_app


@pytest.fixture
def validated_server(tmp_path: Path) -> Iterator[Server]:
    server = Server(
        WSGIHandler(validator(make_app(tmp_path))), port=0, limits=Limits(worker_threads=4)
    )
    server.start()
    yield server
    server.shutdown(timeout=2.0)


def request(
    server: Server,
    method: str,
    target: str,
    body: bytes | Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    host, port = server.addresses[0]
    client = http.client.HTTPConnection(host, port, timeout=5)
    try:
        is_chunked = body is not None and not isinstance(body, bytes)
        client.request(method, target, body, headers or {}, encode_chunked=is_chunked)
        response = client.getresponse()
        return response.status, response.read()
    finally:
        client.close()


def test_validator_finds_nothing(
    validated_server: Server,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    data_file = tmp_path / "data.bin"
    data_file.write_bytes(os.urandom(70_000))
    caplog.set_level(logging.WARNING, logger="barehttp")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = {
            "get": request(validated_server, "GET", "/environ?x=1"),
            "get-decoded": request(validated_server, "GET", "/caf%C3%A9"),
            "head": request(validated_server, "HEAD", "/environ"),
            "post": request(
                validated_server,
                "POST",
                "/echo",
                b"a=1&b=2",
                {"Content-Type": "application/x-www-form-urlencoded"},
            ),
            "chunked": request(validated_server, "POST", "/echo", iter([b"ab", b"c" * 70_000])),
            "readline": request(validated_server, "POST", "/readline?size=4", b"abcdef\ngh\n"),
            "stream": request(validated_server, "GET", "/stream?count=3"),
            "write": request(validated_server, "GET", "/write"),
            "file": request(validated_server, "GET", f"/file?path={data_file}"),
            "options": request(validated_server, "OPTIONS", "/environ"),
        }
    statuses = {name: status for name, (status, _) in results.items()}
    assert set(statuses.values()) == {200}, statuses
    assert results["stream"][1] == b"part 0\npart 1\npart 2\n"
    assert results["file"][1] == data_file.read_bytes()
    assert b'"length": 70002' in results["chunked"][1]
    assert [str(warning.message) for warning in caught] == []
    assert [record.getMessage() for record in caplog.records] == []
    assert unraisable == []  # the validator asserts close() in __del__


def test_validator_would_catch_a_broken_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above is live: a non-str environ value fails validation."""
    from barehttp.wsgi import environ as environ_module

    original = environ_module.build_environ

    def broken(exchange: object, base: dict[str, object]) -> dict[str, object]:
        environ = original(exchange, base)  # type: ignore[arg-type]
        environ["SERVER_PORT"] = int(environ["SERVER_PORT"])  # type: ignore[call-overload]
        return environ

    monkeypatch.setattr("barehttp.wsgi.adapter.build_environ", broken)
    server = Server(WSGIHandler(validator(make_app(None))), port=0)
    server.start()
    try:
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            status, _ = request(server, "GET", "/environ")
        assert status == 500
    finally:
        server.shutdown(timeout=2.0)


def test_validator_warnings_are_seen_from_worker_threads(validated_server: Server) -> None:
    """The check above is live: the validator's warning about a method is caught."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status, _ = request(validated_server, "BREW", "/environ")
    assert status == 200
    assert any("REQUEST_METHOD" in str(warning.message) for warning in caught)
