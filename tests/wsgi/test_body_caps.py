"""Request body caps for hosted apps: none by default, and a clean 413 from the server.

An unmodified Flask app takes a 5 MB multipart upload (httpbin's test) with no
option; under --max-body, a chunked upload over it is answered 413 by the
server and never reaches the app (it would surface there as a 500).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.wsgi.conftest import StartProcess
from tests.wsgi.process import ServerProcess, wait_until

FLASK = "tests.wsgi.apps.flask_app:create_app()"
PROBE = "tests.wsgi.apps.probe:app"
UPLOAD_BYTES = 5 * 1024 * 1024


def curl(curl_path: str, *arguments: str) -> tuple[int, bytes]:
    """(status, body) of one curl request."""
    result = subprocess.run(
        [curl_path, "-sS", "--max-time", "60", "-w", "\n%{http_code}", *arguments],
        capture_output=True,
        check=True,
        timeout=90,
    )
    body, _, status = result.stdout.rpartition(b"\n")
    return int(status), body


@pytest.fixture(scope="module")
def upload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("uploads") / "five.bin"
    path.write_bytes(os.urandom(UPLOAD_BYTES))
    return path


def upload_to(
    server: ServerProcess, curl_path: str, upload: Path, *extra: str
) -> tuple[int, bytes]:
    return curl(
        curl_path,
        *extra,
        "-F",
        f"file=@{upload};type=application/octet-stream",
        server.url("/upload"),
    )


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_no_cap_by_default(
    start_process: StartProcess, curl_path: str, upload: Path, chunked: bool
) -> None:
    server = start_process(FLASK)
    extra = ["-H", "Transfer-Encoding: chunked"] if chunked else []
    status, body = upload_to(server, curl_path, upload, *extra)
    assert status == 200, body
    answer = json.loads(body)
    assert answer["length"] == UPLOAD_BYTES
    assert answer["sha256"] == hashlib.sha256(upload.read_bytes()).hexdigest()


def test_chunked_body_over_the_cap_is_a_clean_413(
    start_process: StartProcess, curl_path: str, upload: Path
) -> None:
    server = start_process(FLASK, "--max-body", "1M")
    status, body = upload_to(server, curl_path, upload, "-H", "Transfer-Encoding: chunked")
    assert status == 413, body
    # The access line follows the response: wait for it, then nothing else was logged.
    wait_until(lambda: '"POST /upload HTTP/1.1" 413' in server.log(), 20.0, "the access line")
    log = server.log()
    assert "Traceback" not in log and "handler failed" not in log


def test_declared_length_over_the_cap_is_a_clean_413(
    start_process: StartProcess, curl_path: str, upload: Path
) -> None:
    server = start_process(FLASK, "--max-body", "1M")
    assert upload_to(server, curl_path, upload)[0] == 413
    assert "Traceback" not in server.log()


def test_chunked_body_within_the_cap_reaches_the_app_with_its_length(
    start_process: StartProcess, curl_path: str, tmp_path: Path
) -> None:
    server = start_process(PROBE, "--max-body", "20M")
    data = os.urandom(3 * 1024 * 1024)  # past the in-memory part of the spool
    (tmp_path / "body.bin").write_bytes(data)
    status, body = curl(
        curl_path,
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        f"@{tmp_path / 'body.bin'}",
        server.url("/echo"),
    )
    assert status == 200, body
    assert json.loads(body) == {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    status, body = curl(
        curl_path,
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "abc",
        server.url("/environ"),
    )
    assert json.loads(body)["CONTENT_LENGTH"] == "3"
