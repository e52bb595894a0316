"""Django's own ASGI handler, unmodified, under ``barehttp asgi``: a real process, httpx.

The project (tests/asgi/apps/django_site/) is what ``startproject`` makes, cut
down: no database, CSRF middleware on. One server serves the whole module.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.asgi.conftest import start_asgi
from tests.wsgi.process import ServerProcess

APP = "tests.asgi.apps.django_site.asgi:application"
TIMEOUT_S = 30.0
UPLOAD_BYTES = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def markers(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("django-markers")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, markers: Path) -> Iterator[ServerProcess]:
    log_dir = tmp_path_factory.mktemp("django-server")
    started = start_asgi(["--max-body", "8M", APP], log_dir / "server.log", markers)
    yield started
    assert started.stop() == 0
    assert "Traceback" not in started.log()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=TIMEOUT_S) as http:
        yield http


def test_get_view_sees_path_query_and_host(client: httpx.Client, server: ServerProcess) -> None:
    response = client.get("/hello/caf%C3%A9", params={"q": "a b&c"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "name": "café",
        "query": "a b&c",
        "method": "GET",
        "path": "/hello/café",
        "host": f"127.0.0.1:{server.port}",
    }


def test_form_post_with_csrf_token(client: httpx.Client) -> None:
    page = client.get("/form")
    assert page.status_code == 200
    token = page.text.removeprefix("token=")
    assert client.cookies.get("csrftoken")  # Set-Cookie reached the client
    # Without the token Django refuses: the check is on, so passing it below means
    # the cookie and the form field both came through.
    assert client.post("/form", data={"a": "1"}).status_code == 403
    response = client.post(
        "/form", data={"csrfmiddlewaretoken": token, "a": "1", "b": ["x", "y"], "c": "é &="}
    )
    assert response.status_code == 200
    assert response.json() == {
        "csrfmiddlewaretoken": [token],
        "a": ["1"],
        "b": ["x", "y"],
        "c": ["é &="],
    }


def test_five_megabyte_upload(client: httpx.Client) -> None:
    data = os.urandom(UPLOAD_BYTES)
    response = client.post(
        "/upload",
        files={"file": ("big.bin", data, "application/octet-stream")},
        data={"note": "five"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "name": "big.bin",
        "size": UPLOAD_BYTES,
        "sha256": hashlib.sha256(data).hexdigest(),
        "note": "five",
    }


def test_streaming_response_arrives_piece_by_piece(client: httpx.Client, markers: Path) -> None:
    with client.stream("GET", "/stream", params={"token": "s1"}) as response:
        assert response.status_code == 200
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        pieces = response.iter_bytes()
        received = b""
        while not received.endswith(b"\n"):
            received += next(pieces)
        # The view sends "second" only once the marker exists: the first piece
        # came through on its own, not held back until the response was complete.
        assert received == b"first\n"
        (markers / "stream-s1").touch()
        received += b"".join(pieces)
    assert received == b"first\nsecond\n"


def test_async_view_runs_on_the_event_loop(client: httpx.Client) -> None:
    response = client.get("/async")
    assert response.status_code == 200
    assert response.json() == {"in_event_loop_thread": True, "running_task": True}


def test_not_found_is_djangos_own(client: httpx.Client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Not Found</h1>" in response.text
