"""A standing guard: barehttp frames generated request streams as h11 does, or refuses them.

Pipelined streams near the edges of the grammar (Content-Length and
Transfer-Encoding variants, chunk sizes and extensions, trailers, odd bytes in
the request line and fields), fed whole, in random pieces and byte by byte.
Whenever both parsers accept a message they agree on its method, target,
version, body and end; barehttp never accepts a message h11 refuses unless
``differential.is_allowed_leniency`` cites the RFC text that allows it. The
generator is shared with ``bench/fuzz.py``, which runs it for hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from barehttp.protocol.limits import Limits
from tests.protocol.differential import (
    check_stream,
    generate_splits,
    generate_stream,
    minimize,
    parse_with_barehttp,
    parse_with_h11,
)

T = TypeVar("T")
SMALL_LIMITS = Limits(max_body_bytes=24, max_chunk_line_bytes=12, max_chunk_count=2)


class HypothesisChooser:
    """The generator's decisions, drawn by hypothesis (so failures shrink)."""

    def __init__(self, data: st.DataObject) -> None:
        self._data = data

    def choice(self, options: Sequence[T]) -> T:
        return self._data.draw(st.sampled_from(options))

    def integer(self, low: int, high: int) -> int:
        return self._data.draw(st.integers(low, high))


@pytest.mark.timeout(60)
@settings(
    max_examples=2_000,
    derandomize=True,  # a fixed seed: the same streams on every run
    # No shrinking (slow with this many draws): the failure shows minimize()'s reproducer.
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_frames_like_h11_or_refuses(data: st.DataObject) -> None:
    chooser = HypothesisChooser(data)
    stream = generate_stream(chooser)
    problem = check_stream(stream, generate_splits(chooser, len(stream)))
    if problem is not None:
        small = minimize(stream, lambda candidate: check_stream(candidate, []) is not None)
        pytest.fail(f"{problem}\n  input: {stream!r}\n  minimal: {small!r}")


def test_small_limits_refuse_only_with_http_errors() -> None:
    stream = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    stream += b"1\r\na\r\n" * 3 + b"0\r\n\r\n"
    assert parse_with_barehttp(stream, (), SMALL_LIMITS)[1] == 413
    assert parse_with_h11(stream).messages[0].body == b"aaa"


# Streams the two parsers once framed differently, or that barehttp took and h11 refused.
KNOWN_CASES = [
    pytest.param(
        b"CONNECT / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n",
        id="connect-with-body",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n"
        b"0\r\n\r\n",
        id="empty-transfer-encoding-line",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n",
        id="transfer-encoding-trailing-comma",
    ),
    pytest.param(b"GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n", id="non-ascii-target"),
    pytest.param(b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", id="leading-empty-line"),
]


@pytest.mark.parametrize("stream", KNOWN_CASES)
def test_known_edge_streams_agree_with_h11(stream: bytes) -> None:
    assert check_stream(stream, [len(stream) // 2]) is None
