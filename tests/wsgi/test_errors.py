"""Application errors: 500 without a traceback before the headers, a cut body after."""

from __future__ import annotations

import pytest
import requests

from tests.wsgi.apps.probe import SECRET
from tests.wsgi.conftest import Markers
from tests.wsgi.process import ServerProcess, wait_until
from tests.wsgi.test_response import read_head_then_cut


def test_raise_before_headers_is_a_logged_500_without_traceback(
    probe_server: ServerProcess,
) -> None:
    response = requests.get(probe_server.url("/raise-before"), timeout=5)
    assert response.status_code == 500
    assert SECRET not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    # The details go to the server's stderr instead.
    wait_until(lambda: SECRET in probe_server.log(), 20.0, "the error in the server log")
    log = probe_server.log()
    assert "Traceback" in log
    assert "RuntimeError: " + SECRET in log
    # The worker survived the exception.
    assert requests.get(probe_server.url("/pid"), timeout=5).status_code == 200


def test_raise_after_headers_cuts_the_chunked_body(
    probe_server: ServerProcess, markers: Markers
) -> None:
    token = markers.new_token()
    head, body = read_head_then_cut(probe_server, f"/raise-mid?token={token}")
    assert head.status == 200
    assert head.header("transfer-encoding") == "chunked"
    assert body == b"b\r\nfirst part\n\r\n"  # the first chunk, then the close: no last chunk
    assert SECRET.encode() not in body
    # close() ran although the iteration raised.
    wait_until(lambda: markers.is_closed(token), 20.0, "close() after the app raised")


def test_raise_after_headers_is_an_incomplete_body_for_requests(
    probe_server: ServerProcess,
) -> None:
    response = requests.get(probe_server.url("/raise-mid"), timeout=5, stream=True)
    assert response.status_code == 200
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        b"".join(response.iter_content(chunk_size=None))
