"""wsgi.input: bounded reads, de-chunking, readline(size), 100-continue, streaming."""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from barehttp.protocol.limits import Limits
from tests.server.rawhttp import ResponseReader, connect
from tests.wsgi.conftest import MAX_BODY_BYTES, StartProcess
from tests.wsgi.process import ServerProcess

UPLOAD_BYTES = 20 * 1024 * 1024
# A body the server leaves to the app under Expect: 100-continue (a smaller one it gathers
# itself, after its own 100 Continue).
LARGER_THAN_GATHERED = Limits().body_prebuffer_bytes + 1


def open_socket(server: ServerProcess) -> socket.socket:
    return connect("127.0.0.1", server.port, timeout=10)


def has_bytes_within(sock: socket.socket, seconds: float) -> bool:
    readable, _, _ = select.select([sock], [], [], seconds)
    return bool(readable)


def encode_chunked(parts: list[bytes], trailer: bytes = b"") -> bytes:
    body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part) for part in parts)
    return body + b"0\r\n" + trailer + b"\r\n"


def test_read_past_end_returns_empty(probe_server: ServerProcess) -> None:
    response = requests.post(probe_server.url("/read-past-end"), data=b"hello", timeout=5)
    assert response.json() == {"body": "hello", "after": ["", "", ""]}


def test_read_past_end_of_chunked_body_returns_empty(probe_server: ServerProcess) -> None:
    sock = open_socket(probe_server)
    with sock:
        sock.sendall(
            b"POST /read-past-end HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + encode_chunked([b"hel", b"lo"])
        )
        response = ResponseReader(sock).read_response()
    assert json.loads(response.body) == {"body": "hello", "after": ["", "", ""]}


def test_chunked_body_is_dechunked(probe_server: ServerProcess) -> None:
    parts = [os.urandom(size) for size in (1, 15, 16, 4096, 70_000, 3)]
    whole = b"".join(parts)
    sock = open_socket(probe_server)
    with sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + encode_chunked(parts, trailer=b"X-Checksum: none\r\n")
        )
        reader = ResponseReader(sock)
        response = reader.read_response()
        assert json.loads(response.body) == {
            "length": len(whole),
            "sha256": hashlib.sha256(whole).hexdigest(),
        }
        # The body was read to its end, so the connection carries the next request.
        sock.sendall(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
        assert reader.read_response().status == 200


def test_chunked_upload_with_requests(probe_server: ServerProcess) -> None:
    parts = [b"a" * 1000, b"b" * 100_000, b"c"]
    response = requests.post(probe_server.url("/echo"), data=iter(parts), timeout=5)
    assert response.json()["length"] == 101_001


@pytest.mark.parametrize(
    ("size", "lines"),
    [
        (-1, ["abcdefghij\n", "xy\n", "tail"]),
        (4, ["abcd", "efgh", "ij\n", "xy\n", "tail"]),
        (3, ["abc", "def", "ghi", "j\n", "xy\n", "tai", "l"]),
        (1, list("abcdefghij\nxy\ntail")),
    ],
    ids=["unbounded", "size-4", "size-3", "size-1"],
)
def test_readline_is_bounded_by_size(
    probe_server: ServerProcess, size: int, lines: list[str]
) -> None:
    response = requests.post(
        probe_server.url(f"/readline?size={size}"), data=b"abcdefghij\nxy\ntail", timeout=5
    )
    assert response.json() == {"lines": lines}


def test_readline_on_long_line_returns_at_most_size(probe_server: ServerProcess) -> None:
    body = b"z" * 200_000  # no newline at all: each call must stop at size
    response = requests.post(probe_server.url("/readline?size=65536"), data=body, timeout=5)
    lengths = [len(line) for line in response.json()["lines"]]
    assert lengths == [65_536, 65_536, 65_536, 200_000 - 3 * 65_536]


def test_100_continue_only_once_the_app_reads(probe_server: ServerProcess) -> None:
    sock = open_socket(probe_server)
    with sock:
        sock.sendall(
            b"POST /echo?delay=0.6 HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % LARGER_THAN_GATHERED
        )
        # The app sleeps before reading: no 100 Continue may come before that.
        assert not has_bytes_within(sock, 0.3)
        assert has_bytes_within(sock, 20.0)  # the 100, once the app reads
        reader = ResponseReader(sock)
        interim = reader.read_response()
        assert (interim.status, interim.reason) == (100, "Continue")
        sock.sendall(b"h" * LARGER_THAN_GATHERED)
        response = reader.read_response()
        assert response.status == 200
        assert json.loads(response.body)["length"] == LARGER_THAN_GATHERED


def test_no_100_continue_when_the_app_does_not_read(probe_server: ServerProcess) -> None:
    sock = open_socket(probe_server)
    with sock:
        sock.sendall(
            b"POST /no-read HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % LARGER_THAN_GATHERED
        )
        reader = ResponseReader(sock)
        response = reader.read_response()
        assert response.status == 200  # a final status, with no 100 before it
        assert response.body == b"no-read"
        assert response.header("connection") == "close"
        # The unsent body would be read as the next request: the server closes.
        assert reader.is_closed()


def test_app_runs_before_the_body_arrives(probe_server: ServerProcess) -> None:
    """The server hands the app a stream: it answers once the first 64 KiB
    (body_prebuffer_bytes, gathered before dispatch) of 20 MB were sent."""
    sock = open_socket(probe_server)
    with sock:
        sock.sendall(
            b"POST /first-bytes?count=10 HTTP/1.1\r\nHost: t\r\n"
            b"Content-Length: %d\r\n\r\n0123456789"
            % UPLOAD_BYTES
            + b"x" * (Limits().body_prebuffer_bytes - 10)
        )
        reader = ResponseReader(sock)
        response = reader.read_response()
        assert response.body == b"0123456789"
        # Far too much body left to drain: the connection is closed, not kept.
        assert response.header("connection") == "close"


def peak_memory_bytes(pid: int) -> int:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def test_large_upload_is_streamed_not_buffered(
    start_process: StartProcess, tmp_path: Path, curl_path: str
) -> None:
    server = start_process("tests.wsgi.apps.probe:app", "--max-body", str(MAX_BODY_BYTES))
    requests.post(server.url("/echo"), data=b"warm-up", timeout=5).raise_for_status()
    before = peak_memory_bytes(server.pid)
    upload = tmp_path / "upload.bin"
    data = os.urandom(UPLOAD_BYTES)
    upload.write_bytes(data)
    result = subprocess.run(
        [
            curl_path,
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--data-binary",
            f"@{upload}",
            "-H",
            "Content-Type: application/octet-stream",
            server.url("/echo"),
        ],
        capture_output=True,
        timeout=40,
        check=True,
    )
    assert json.loads(result.stdout) == {
        "length": UPLOAD_BYTES,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    # Holding the body whole would add 20 MB; reading pieces adds a few 64 KB buffers.
    growth = peak_memory_bytes(server.pid) - before
    assert growth < 8 * 1024 * 1024, f"peak memory grew by {growth} bytes"
