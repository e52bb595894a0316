"""Flask and Django hosted by ``barehttp wsgi``, driven by requests, httpx and curl.

Both apps have the same routes (tests/wsgi/apps/flask_app.py, django_urls.py),
so every test runs against each framework.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import requests

from tests.wsgi.apps import django_urls, flask_app
from tests.wsgi.conftest import MAX_BODY_BYTES, StartProcess
from tests.wsgi.process import ServerProcess, wait_until

UPLOAD_BYTES = 20 * 1024 * 1024
SPECS = {
    "flask": "tests.wsgi.apps.flask_app:app",
    "django": "tests.wsgi.apps.django_app:application",
}
SECRETS = {"flask": flask_app.SECRET, "django": django_urls.SECRET}


@pytest.fixture(scope="module", params=sorted(SPECS))
def framework(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(scope="module")
def app_server(framework: str, start_module_process: StartProcess) -> ServerProcess:
    return start_module_process(
        SPECS[framework], "--threads", "4", "--max-body", str(MAX_BODY_BYTES), name=framework
    )


def run_curl(curl_path: str, *arguments: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [curl_path, "--silent", "--show-error", "--max-time", "30", *arguments],
        capture_output=True,
        timeout=40,
        check=True,
    )


def test_json_get_with_requests_httpx_and_curl(
    app_server: ServerProcess, framework: str, curl_path: str
) -> None:
    url = app_server.url("/json?name=caf%C3%A9")
    by_requests = requests.get(url, timeout=5)
    assert by_requests.status_code == 200
    assert by_requests.headers["Content-Type"].startswith("application/json")
    with httpx.Client(timeout=5) as client:
        by_httpx = client.get(url)
    by_curl = json.loads(run_curl(curl_path, url).stdout)
    for body in (by_requests.json(), by_httpx.json(), by_curl):
        assert body["framework"] == framework
        assert body["args"] == {"name": "café"}


def test_json_post(app_server: ServerProcess) -> None:
    document = {"list": [1, 2, 3], "text": "naïve ✓", "nested": {"ok": True}}
    response = requests.post(app_server.url("/json"), json=document, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"received": document}


def test_form_post(app_server: ServerProcess) -> None:
    response = requests.post(
        app_server.url("/form"),
        data=[("name", "Zoë"), ("tag", "a"), ("tag", "b&c"), ("empty", "")],
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json() == {"form": {"name": ["Zoë"], "tag": ["a", "b&c"], "empty": [""]}}


def test_small_multipart_upload_with_requests(app_server: ServerProcess) -> None:
    content = b"line 1\r\nline 2\r\n--not-a-boundary\r\n" * 100
    response = requests.post(
        app_server.url("/upload"),
        files={"file": ("notes.txt", content, "text/plain")},
        data={"title": "notes"},
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["filename"] == "notes.txt"
    assert body["length"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["fields"] == {"title": "notes"}


def test_20_mb_multipart_upload_with_curl(
    app_server: ServerProcess, tmp_path: Path, curl_path: str
) -> None:
    data = os.urandom(UPLOAD_BYTES)
    upload = tmp_path / "big.bin"
    upload.write_bytes(data)
    result = run_curl(
        curl_path,
        "-F",
        f"file=@{upload};type=application/octet-stream",
        "-F",
        "title=big",
        app_server.url("/upload"),
    )
    body = json.loads(result.stdout)
    assert body["filename"] == "big.bin"
    assert body["length"] == UPLOAD_BYTES
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["fields"] == {"title": "big"}


def test_20_mb_upload_with_expect_100_continue(
    app_server: ServerProcess, tmp_path: Path, curl_path: str
) -> None:
    """curl sends Expect: 100-continue for big bodies and waits for the 100."""
    data = os.urandom(UPLOAD_BYTES)
    upload = tmp_path / "big.bin"
    upload.write_bytes(data)
    result = run_curl(
        curl_path,
        "--expect100-timeout",
        "20",
        "-v",
        "-F",
        f"file=@{upload}",
        app_server.url("/upload"),
    )
    assert b"Expect: 100-continue" in result.stderr
    assert b"HTTP/1.1 100 Continue" in result.stderr
    assert json.loads(result.stdout)["sha256"] == hashlib.sha256(data).hexdigest()


def test_streaming_response_is_chunked_and_incremental(app_server: ServerProcess) -> None:
    started = time.monotonic()
    arrivals: list[float] = []
    lines: list[str] = []
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", app_server.url("/stream?count=4&delay=0.5")) as response,
    ):
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert "Content-Length" not in response.headers
        for line in response.iter_lines():
            arrivals.append(time.monotonic() - started)
            lines.append(line)
    assert lines == ["line 0", "line 1", "line 2", "line 3"]
    # The first line arrives while the generator is still sleeping, not after it ends:
    # the last comes 1.5 s after it is made; a buffered body brings all four at once.
    # The margin is for a loaded machine that is slow to read the first one.
    assert arrivals[0] < arrivals[-1] - 0.2, arrivals


def test_streaming_response_with_curl(app_server: ServerProcess, curl_path: str) -> None:
    result = run_curl(curl_path, "--raw", "-i", app_server.url("/stream?count=3"))
    assert b"transfer-encoding: chunked" in result.stdout.lower()
    assert run_curl(curl_path, app_server.url("/stream?count=3")).stdout == (
        b"line 0\nline 1\nline 2\n"
    )


def test_cookie_set_and_read_back(app_server: ServerProcess) -> None:
    with requests.Session() as session:
        response = session.get(app_server.url("/set-cookie?value=ginger"), timeout=5)
        assert "flavour=ginger" in response.headers["Set-Cookie"]
        assert "httponly" in response.headers["Set-Cookie"].lower()
        session.cookies.set("second", "2", domain="127.0.0.1", path="/")
        read = session.get(app_server.url("/read-cookie"), timeout=5)
    assert read.json() == {"cookies": {"flavour": "ginger", "second": "2"}}


def test_cookie_with_curl_jar(app_server: ServerProcess, curl_path: str, tmp_path: Path) -> None:
    jar = str(tmp_path / "jar.txt")
    run_curl(curl_path, "-c", jar, app_server.url("/set-cookie?value=lemon"))
    read = run_curl(curl_path, "-b", jar, app_server.url("/read-cookie"))
    assert json.loads(read.stdout) == {"cookies": {"flavour": "lemon"}}


def test_redirect(app_server: ServerProcess, framework: str, curl_path: str) -> None:
    response = requests.get(app_server.url("/redirect"), timeout=5, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/json?source=redirect"
    followed = requests.get(app_server.url("/redirect"), timeout=5)
    assert followed.history[0].status_code == 302
    assert followed.json()["args"] == {"source": "redirect"}
    by_curl = json.loads(run_curl(curl_path, "-L", app_server.url("/redirect")).stdout)
    assert by_curl["framework"] == framework


def test_exception_is_500_without_traceback(app_server: ServerProcess, framework: str) -> None:
    secret = SECRETS[framework]
    response = requests.get(app_server.url("/boom"), timeout=5)
    assert response.status_code == 500
    assert secret not in response.text
    assert "Traceback" not in response.text
    wait_until(lambda: secret in app_server.log(), 20.0, "the exception in the server log")
    # The framework answered the 500 itself; the server is still fine.
    assert requests.get(app_server.url("/json"), timeout=5).status_code == 200


def test_keep_alive_across_framework_requests(app_server: ServerProcess) -> None:
    with httpx.Client(timeout=5) as client:
        ports = set()
        for _ in range(5):
            response = client.get(app_server.url("/json"))
            assert response.status_code == 200
            ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])
    assert len(ports) == 1


# -- mounted under a prefix, and loaded by factory -------------------------------


@pytest.mark.parametrize(
    "spec",
    ["tests.wsgi.apps.flask_app:create_app()", "tests.wsgi.apps.django_app:application"],
    ids=["flask-factory", "django"],
)
def test_root_path_reaches_url_building(start_process: StartProcess, spec: str) -> None:
    server = start_process(spec, "--root-path", "/prefix")
    response = requests.get(server.url("/prefix/redirect"), timeout=5, allow_redirects=False)
    assert response.status_code == 302
    # The framework builds URLs from SCRIPT_NAME, so they include the mount point.
    assert response.headers["Location"] == "/prefix/json?source=redirect"
    followed = requests.get(server.url("/prefix/redirect"), timeout=5)
    assert followed.json()["args"] == {"source": "redirect"}
