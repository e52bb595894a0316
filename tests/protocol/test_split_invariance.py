"""The same bytes give the same events and errors however they are split (a parser rule)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.events import RequestHead
from barehttp.protocol.limits import Limits
from barehttp.protocol.parser import ParseState, RequestParser
from tests.protocol.helpers import bytewise, event_log, outcome

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

MUTATION_BYTES = [
    b"\n",
    b"\r",
    b"\r\n",
    b" ",
    b"\t",
    b"\x00",
    b":",
    b"0",
    b",",
    b"\xff",
    b";",
    b'"',
]


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
def test_split_points_do_not_change_events_or_error(
    data: bytes, limits: Limits, draw: st.DataObject
) -> None:
    # Every event, including those of a message an error cuts short, then the error.
    whole = event_log(data, (), limits)
    assert event_log(data, random_splits(draw, data), limits) == whole
    assert event_log(data, bytewise(data), limits) == whole


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


# The bytes of one read complete events, then break a rule: the events come out (the
# handler runs for the head, as when the bytes arrive in two reads), then the error.
EVENTS_BEFORE_ERROR = [
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ["head"],
        400,
        id="head-then-bad-chunk-size",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXY",
        ["head", "body"],
        400,
        id="body-then-chunk-overrun",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\n",
        ["head", "body"],
        400,
        id="body-then-bare-lf-after-last-chunk",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n"
        + b"Y: "
        + b"z" * 9_000,
        ["head"],
        431,
        id="head-then-trailers-too-large",
    ),
]


@pytest.mark.parametrize(("data", "kinds", "status"), EVENTS_BEFORE_ERROR)
def test_keeps_events_completed_before_an_error(data: bytes, kinds: list[str], status: int) -> None:
    parser = RequestParser()
    events = parser.feed(data)  # one read: the events are returned, the error kept
    assert isinstance(events[0], RequestHead)
    assert [kind for kind, *_ in event_log(data)[0]] == kinds
    assert parser.state is ParseState.FAILED
    for _ in range(2):  # every later feed raises it
        with pytest.raises(HTTPError) as caught:
            parser.feed(b"")
        assert caught.value.status == status
    assert event_log(data) == event_log(data, bytewise(data))
    assert event_log(data)[1] == status
