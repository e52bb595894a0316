"""An unmodified httpbin (Flask) hosted by ``barehttp wsgi``: uploads of several MB.

httpbin echoes what it received, so each test checks that the bytes the client
sent are the bytes the application read, with no body cap in the way (a WSGI
app decides its own limits, as under gunicorn).
"""

from __future__ import annotations

import hashlib
import os

import httpx

from tests.wsgi.conftest import StartProcess

UPLOAD_BYTES = 5 * 1024 * 1024
TIMEOUT_S = 60.0


def test_multipart_upload_of_5_mb_reaches_httpbin_whole(start_process: StartProcess) -> None:
    server = start_process("httpbin:app", "--no-access-log")
    data = os.urandom(UPLOAD_BYTES // 2).hex().encode()  # text, so httpbin echoes it as is
    assert len(data) == UPLOAD_BYTES
    response = httpx.post(
        server.url("/post"),
        files={"upload": ("big.txt", data, "text/plain")},
        data={"note": "five megabytes"},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 200, response.text[:200]
    echoed = response.json()
    assert echoed["form"] == {"note": "five megabytes"}
    received = echoed["files"]["upload"].encode()
    assert len(received) == UPLOAD_BYTES
    assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()


def test_raw_body_of_5_mb_reaches_httpbin_whole(start_process: StartProcess) -> None:
    server = start_process("httpbin:app", "--no-access-log")
    data = os.urandom(UPLOAD_BYTES // 2).hex().encode()
    response = httpx.put(
        server.url("/put"),
        content=data,
        headers={"Content-Type": "text/plain"},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 200, response.text[:200]
    echoed = response.json()
    assert echoed["headers"]["Content-Length"] == str(UPLOAD_BYTES)
    assert hashlib.sha256(echoed["data"].encode()).digest() == hashlib.sha256(data).digest()


def test_a_cap_set_with_max_body_is_a_clean_413(start_process: StartProcess) -> None:
    server = start_process("httpbin:app", "--no-access-log", "--max-body", "1M")
    response = httpx.post(
        server.url("/post"),
        files={"upload": ("big.txt", b"x" * UPLOAD_BYTES, "text/plain")},
        timeout=TIMEOUT_S,
    )
    assert response.status_code == 413
