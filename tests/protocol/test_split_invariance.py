"""The same bytes give the same events and errors however they are split (a parser rule)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barehttp.protocol.limits import Limits
from tests.protocol.helpers import bytewise, outcome

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,  # no example database left in the work tree
    suppress_health_check=[HealthCheck.too_slow],
)

TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
VCHAR_SP = "".join(chr(code) for code in range(0x20, 0x7F)) + "\t\xe9"
PATH_CHAR = "abcXYZ019-._~%/:@!$&'()*+,;="
FRAMING_NAMES = {"host", "content-length", "transfer-encoding", "connection", "expect"}

# Tight enough that generated requests often cross them, in every framing.
SMALL_LIMITS = Limits(
    max_request_line_bytes=40,
    max_header_bytes=90,
    max_header_count=4,
    max_body_bytes=24,
    max_chunk_line_bytes=12,
    max_trailer_bytes=30,
)

names = st.text(TCHAR, min_size=1, max_size=12).filter(lambda n: n.lower() not in FRAMING_NAMES)
fields = st.lists(st.tuples(names, st.text(VCHAR_SP, max_size=20)), max_size=4)


@dataclass
class Chunk:
    data: bytes
    extension: str


chunks = st.lists(
    st.builds(
        Chunk,
        st.binary(min_size=1, max_size=20),
        st.sampled_from(["", ";a", ";name=value", ' ;q="x;y"']),
    ),
    max_size=4,
)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """One valid request: any method and path, extra fields, and one of the framings."""
    method = draw(st.sampled_from(["GET", "POST", "PUT", "OPTIONS", "M-SEARCH"]))
    path = "/" + draw(st.text(PATH_CHAR, max_size=20))
    if draw(st.booleans()):
        path += "?" + draw(st.text(PATH_CHAR + "=&?", max_size=15))
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    version = (
        "HTTP/1.1" if framing == "chunked" else draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0"]))
    )
    lines = [f"{method} {path} {version}", "Host: example.com"]
    lines += [f"{name}:{value}" for name, value in draw(fields)]
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["Connection: close", "Connection: keep-alive"])))
    body = b""
    if framing == "length":
        body = draw(st.binary(max_size=40))
        lines.append(f"Content-Length: {len(body)}")
    elif framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        for chunk in draw(chunks):
            body += b"%x%b\r\n%b\r\n" % (len(chunk.data), chunk.extension.encode(), chunk.data)
        body += b"0\r\n"
        for name, value in draw(fields):
            body += f"{name}: {value}\r\n".encode("latin-1")
        body += b"\r\n"
    if framing != "none" and draw(st.booleans()) and version == "HTTP/1.1":
        lines.append("Expect: 100-continue")
    prefix = draw(st.sampled_from([b"", b"\r\n"]))
    return prefix + ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


pipelines = st.lists(requests(), min_size=1, max_size=3)

MUTATION_BYTES = [b"\n", b"\r", b"\r\n", b" ", b"\t", b"\x00", b":", b"0", b",", b"\xff"]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """Valid pipelined requests with a few bytes inserted, replaced, deleted or cut off."""
    data = b"".join(draw(pipelines))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        piece = draw(st.sampled_from(MUTATION_BYTES))
        action = draw(st.sampled_from(["insert", "replace", "delete", "truncate"]))
        if action == "insert":
            data = data[:at] + piece + data[at:]
        elif action == "replace":
            data = data[:at] + piece + data[at + len(piece) :]
        elif action == "delete":
            data = data[:at] + data[at + 1 :]
        else:
            data = data[:at]
    return data


def random_splits(draw: st.DataObject, data: bytes) -> list[int]:
    return draw.draw(st.lists(st.integers(1, max(1, len(data) - 1)), max_size=12))


@PROPERTY_SETTINGS
@given(pipeline=pipelines, draw=st.data())
def test_split_points_do_not_change_events(pipeline: list[bytes], draw: st.DataObject) -> None:
    data = b"".join(pipeline)
    whole = outcome(data)
    messages, status = whole
    assert status is None
    assert len(messages) == len(pipeline)  # every request came out whole
    assert outcome(data, random_splits(draw, data)) == whole
    assert outcome(data, bytewise(data)) == whole


@PROPERTY_SETTINGS
@given(
    data=st.one_of(mutated(), pipelines.map(b"".join)),
    limits=st.sampled_from([Limits(), SMALL_LIMITS]),
    draw=st.data(),
)
def test_split_points_do_not_change_error_status(
    data: bytes, limits: Limits, draw: st.DataObject
) -> None:
    whole = outcome(data, (), limits)
    assert outcome(data, random_splits(draw, data), limits) == whole
    assert outcome(data, bytewise(data), limits) == whole


# Inputs where a size limit and a bare LF are both broken: the earlier byte decides.
ORDERED_ERRORS = [
    pytest.param(
        b"GET / HTTP/1.1\nHost: a\n" + b"x" * 10_000 + b"\r\n\r\n", 400, id="bare-lf-then-long"
    ),
    pytest.param(b"GET /" + b"a" * 9_000 + b"\nHost: a\r\n\r\n", 414, id="long-then-bare-lf"),
    pytest.param(
        b"GET / HTTP/1.1\r\nHost: a\n\n" + b"X: y\r\n" * 6_000 + b"\r\n", 400, id="lf-lf-then-big"
    ),
    pytest.param(
        b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 6_000 + b"Z: z\n\r\n\r\n", 431, id="big-then-bare-lf"
    ),
]


@pytest.mark.parametrize(("data", "status"), ORDERED_ERRORS)
def test_earliest_broken_rule_decides_status(data: bytes, status: int) -> None:
    expected: tuple[list[tuple[object, ...]], int | None] = ([], status)
    assert outcome(data) == expected
    assert outcome(data, range(1, len(data), 7)) == expected
    assert outcome(data, range(1, len(data), 1_000)) == expected
