"""Fuzzing: mangled requests in random pieces only ever raise HTTPError, and always end.

A bounded random loop (fixed seed, so a failure repeats): valid requests of every
framing are mutated byte-wise and by splicing in the tokens parsers trip over,
then fed in random pieces, with small and default limits. The parser may refuse
anything, but only with an ``HTTPError`` subclass (whose status the server
sends): an ``IndexError`` or ``UnicodeError`` would become a 500, or worse, kill
a connection without an answer.
"""

from __future__ import annotations

import random
import time

import pytest

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.limits import Limits
from tests.protocol.helpers import Collector, split_at

SEED = 20261126
# Wall-clock budget for the loop; the loop also stops after MAX_CASES.
BUDGET_S = 4.0
MAX_CASES = 40_000

SMALL_LIMITS = Limits(
    max_request_line_bytes=40,
    max_header_bytes=90,
    max_header_count=4,
    max_body_bytes=24,
    max_chunk_line_bytes=12,
    max_trailer_bytes=30,
)

SEEDS = [
    b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET /a/b?x=1&y=%20 HTTP/1.0\r\n\r\n",
    b"GET http://example.com:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nConnection: keep-alive\r\n\r\nabc",
    b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n0\r\nTrailer-A: 1\r\n\r\n",
    b"PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
    b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nX: \xe9\xff\r\n\r\n",
]

TOKENS = [
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"\x00",
    b"\x7f",
    b"\x80",
    b"\xc3",
    b"\xff",
    b"0",
    b"-1",
    b"+5",
    b"0x10",
    b"ffffffffffffffffff",
    b"99999999999999999999",
    b"HTTP/1.1",
    b"HTTP/2.0",
    b"HTTP/1.",
    b"http://",
    b"*",
    b"/",
    b"?",
    b"Host: x\r\n",
    b"Content-Length: 4\r\n",
    b"Content-Length: \r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: ,\r\n",
    b"Connection: ,,close\r\n",
    b"Expect: 100-continue\r\n",
    b"Expect: \r\n",
    b" folded\r\n",
]


def mutate(rng: random.Random, data: bytes) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        position = rng.randint(0, len(buffer))
        operation = rng.randrange(6)
        if operation == 0 and buffer:  # flip a byte
            buffer[min(position, len(buffer) - 1)] = rng.randrange(256)
        elif operation == 1:  # splice in a token
            buffer[position:position] = rng.choice(TOKENS)
        elif operation == 2:  # delete a run
            del buffer[position : position + rng.randint(1, 8)]
        elif operation == 3:  # duplicate a run
            start = rng.randint(0, len(buffer))
            buffer[position:position] = buffer[start : start + rng.randint(1, 16)]
        elif operation == 4:  # cut off the end
            del buffer[position:]
        else:  # another request behind this one (pipelining)
            buffer += rng.choice(SEEDS)
    return bytes(buffer)


def run_case(data: bytes, splits: list[int], limits: Limits | None) -> None:
    collector = Collector(limits)
    try:
        for piece in split_at(data, splits):
            collector.feed(piece)
    except HTTPError:
        pass


@pytest.mark.timeout(30)  # a parser loop that never ends fails here, not at the suite's 120 s
def test_mutated_requests_raise_only_http_errors() -> None:
    rng = random.Random(SEED)
    deadline = time.monotonic() + BUDGET_S
    cases = 0
    while cases < MAX_CASES and time.monotonic() < deadline:
        data = mutate(rng, rng.choice(SEEDS))
        if rng.random() < 0.3:
            data = mutate(rng, data)
        if rng.random() < 0.5:
            splits = bytewise_sample(rng, len(data))
        else:
            splits = list(range(1, len(data)))  # one byte at a time
        limits = SMALL_LIMITS if rng.random() < 0.5 else None
        try:
            run_case(data, splits, limits)
        except Exception as error:
            raise AssertionError(
                f"{type(error).__name__} for {data!r} split at {splits} "
                f"({'small' if limits else 'default'} limits)"
            ) from error
        cases += 1
    assert cases > 1_000  # the loop ran for real


@pytest.mark.timeout(30)
def test_random_bytes_raise_only_http_errors() -> None:
    rng = random.Random(SEED + 1)
    alphabet = b"GETPOST /HTTP1.0:\r\n\t ,;0123456789abcdefHost-Lengthchunked\x00\xff"
    deadline = time.monotonic() + BUDGET_S / 2
    cases = 0
    while cases < MAX_CASES and time.monotonic() < deadline:
        size = rng.randint(0, 120)
        if rng.random() < 0.5:
            data = bytes(rng.choice(alphabet) for _ in range(size))
        else:
            data = rng.randbytes(size)
        splits = bytewise_sample(rng, len(data))
        try:
            run_case(data, splits, SMALL_LIMITS if rng.random() < 0.5 else None)
        except Exception as error:
            raise AssertionError(f"{type(error).__name__} for {data!r}") from error
        cases += 1
    assert cases > 1_000


def bytewise_sample(rng: random.Random, length: int) -> list[int]:
    """A few random split points in ``length`` bytes."""
    if length < 2:
        return []
    return [rng.randint(1, length - 1) for _ in range(rng.randint(0, 5))]
