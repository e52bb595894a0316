"""A client that leaves mid-response or mid-upload: close() runs, the worker is freed.

The server runs one thread, so a worker left stuck on the lost client would
make the follow-up request time out.
"""

from __future__ import annotations

import socket
import struct

import pytest
import requests

from tests.server.rawhttp import connect
from tests.wsgi.conftest import Markers, StartProcess
from tests.wsgi.process import ServerProcess, wait_until

# Well under the 30 s the stream lasts and the 30 s body timeout: a server that did not
# notice the client leave gets there only after those; a loaded machine gets there first.
CLOSE_WAIT_S = 20.0
FREE_WAIT_S = 10.0


@pytest.fixture(scope="module")
def one_thread_server(start_module_process: StartProcess) -> ServerProcess:
    return start_module_process("tests.wsgi.apps.probe:app", "--threads", "1")


def reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), the way a killed client goes."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def assert_server_free(server: ServerProcess) -> None:
    response = requests.get(server.url("/pid"), timeout=FREE_WAIT_S)
    assert response.status_code == 200


@pytest.mark.parametrize("abrupt", [False, True], ids=["fin", "rst"])
def test_close_runs_when_client_leaves_mid_download(
    one_thread_server: ServerProcess, markers: Markers, abrupt: bool
) -> None:
    token = markers.new_token()
    sock = connect("127.0.0.1", one_thread_server.port)
    # 600 parts, 0.05 s apart: 30 s if the server kept writing to nobody.
    sock.sendall(
        f"GET /stream?count=600&delay=0.05&token={token} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
    )
    assert b"part 0" in sock.recv(65_536) or b"part 0" in sock.recv(65_536)
    if abrupt:
        reset(sock)
    else:
        sock.close()
    wait_until(lambda: markers.is_closed(token), CLOSE_WAIT_S, "close() after the client left")
    assert_server_free(one_thread_server)


@pytest.mark.parametrize("abrupt", [False, True], ids=["fin", "rst"])
def test_close_runs_when_client_leaves_mid_upload(
    one_thread_server: ServerProcess, markers: Markers, abrupt: bool
) -> None:
    token = markers.new_token()
    sock = connect("127.0.0.1", one_thread_server.port)
    sock.sendall(
        f"POST /upload-stream?token={token} HTTP/1.1\r\nHost: t\r\n"
        f"Content-Length: 1000000\r\n\r\n".encode()
    )
    sock.sendall(b"u" * 100_000)
    if abrupt:
        reset(sock)
    else:
        sock.close()
    wait_until(lambda: markers.is_closed(token), CLOSE_WAIT_S, "close() after the upload broke")
    assert_server_free(one_thread_server)


def test_client_leaving_before_reading_anything(one_thread_server: ServerProcess) -> None:
    """A slow response whose client is gone long before it is ready."""
    sock = connect("127.0.0.1", one_thread_server.port)
    sock.sendall(b"GET /slow?seconds=0.3 HTTP/1.1\r\nHost: t\r\n\r\n")
    reset(sock)
    assert_server_free(one_thread_server)
