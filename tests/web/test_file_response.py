import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import pytest

from barehttp.protocol.writer import format_http_date
from barehttp.web.file_response import (
    FileResponse,
    guess_media_type,
    make_etag,
    serve_file,
)
from barehttp.web.request import Request
from barehttp.web.response import Response
from tests.web.fakes import FakeExchange

CONTENT = bytes(range(256)) * 4  # 1024 distinct-ish bytes
MTIME = 1_700_000_000  # Tue, 14 Nov 2023 22:13:20 GMT
MTIME_TEXT = "Tue, 14 Nov 2023 22:13:20 GMT"


# -- media types -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("a.TXT", "text/plain; charset=utf-8"),
        ("a.mjs", "text/javascript; charset=utf-8"),
        ("a.woff2", "font/woff2"),
        ("a.webp", "image/webp"),
        ("a.xml", "text/xml; charset=utf-8"),
        ("a.tar.bz2", "application/x-bzip2"),
        ("a.wasm", "application/wasm"),
        ("", "application/octet-stream"),
    ],
)
def test_guess_media_type(name: str, media_type: str) -> None:
    assert guess_media_type(name) == media_type


def test_etag_changes_with_content_and_hides_the_inode(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"one")
    first = make_etag(os.stat(path))
    path.write_bytes(b"two!")
    assert make_etag(os.stat(path)) != first
    assert str(os.stat(path).st_ino) not in first


# -- responses -----------------------------------------------------------------


@pytest.fixture
def file_path(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    os.utime(path, (MTIME, MTIME))
    return path


Send = Callable[..., FakeExchange]


@pytest.fixture
def send(file_path: Path) -> Send:
    def run(headers: list[tuple[str, str]] | None = None, method: str = "GET") -> FakeExchange:
        exchange = FakeExchange(method, "/data.bin", headers)
        file = open(file_path, "rb")  # noqa: SIM115 - serve_file owns it
        serve_file(Request(exchange), file).send(exchange)
        assert file.closed
        return exchange

    return run


@pytest.fixture
def etag(file_path: Path) -> str:
    return make_etag(os.stat(file_path))


def test_whole_file(send: Send, etag: str) -> None:
    exchange = send()
    assert exchange.status == 200
    assert exchange.body == CONTENT
    assert exchange.header("etag") == etag
    assert exchange.header("last-modified") == MTIME_TEXT
    assert exchange.header("content-length") == str(len(CONTENT))
    assert exchange.header("content-type") == "application/octet-stream"


def assert_not_modified(exchange: FakeExchange, etag: str) -> None:
    assert exchange.status == 304
    assert exchange.body == b""
    assert exchange.header("etag") == etag  # RFC 9110 §15.4.5: the 200's ETag
    assert exchange.header("cache-control") == "public, max-age=3600"
    assert exchange.header("content-length") is None  # §8.6: no misleading length
    assert exchange.header("content-type") is None


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", "W/{etag}", '"other", {etag}', "*", ' "x" ,  {etag} '],
    ids=["exact", "weak-form", "in-list", "star", "spaces"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_none_match_gives_304(send: Send, etag: str, if_none_match: str, method: str) -> None:
    assert_not_modified(send([("If-None-Match", if_none_match.format(etag=etag))], method), etag)


@pytest.mark.parametrize("if_none_match", ['"other"', 'W/"other"', "garbage", ""])
def test_if_none_match_without_match_gives_200(send: Send, if_none_match: str) -> None:
    assert send([("If-None-Match", if_none_match)]).status == 200


@pytest.mark.parametrize(
    ("since", "status"),
    [
        (MTIME_TEXT, 304),
        (format_http_date(MTIME + 3600), 304),
        (format_http_date(MTIME - 1), 200),
        ("not a date", 200),
        (f"{MTIME_TEXT}, {MTIME_TEXT}", 200),  # two members: invalid, ignored (§13.1.3)
    ],
    ids=["same-second", "later", "earlier", "invalid", "list"],
)
def test_if_modified_since(send: Send, etag: str, since: str, status: int) -> None:
    exchange = send([("If-Modified-Since", since)])
    assert exchange.status == status
    if status == 304:
        assert_not_modified(exchange, etag)


def test_if_none_match_wins_over_if_modified_since(send: Send) -> None:
    # §13.1.3: If-Modified-Since is ignored when If-None-Match is present.
    headers = [("If-None-Match", '"stale"'), ("If-Modified-Since", MTIME_TEXT)]
    assert send(headers).status == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ([("If-Match", "{etag}")], 200),
        ([("If-Match", "*")], 200),
        ([("If-Match", '"other"')], 412),
        ([("If-Match", "W/{etag}")], 412),  # §13.1.1: strong comparison
        ([("If-Unmodified-Since", MTIME_TEXT)], 200),
        ([("If-Unmodified-Since", format_http_date(MTIME - 10))], 412),
        ([("If-Match", "{etag}"), ("If-Unmodified-Since", format_http_date(0))], 200),
    ],
    ids=[
        "match",
        "match-star",
        "mismatch",
        "weak",
        "unmodified",
        "modified",
        "if-match-wins",
    ],
)
def test_preconditions(send: Send, etag: str, headers: list[tuple[str, str]], status: int) -> None:
    formatted = [(name, value.format(etag=etag)) for name, value in headers]
    assert send(formatted).status == status


@pytest.mark.parametrize(
    ("range_value", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, 1023),
        ("bytes=-500", 524, 1023),
        ("bytes=1000-5000", 1000, 1023),
        ("bytes=-5000", 0, 1023),
        ("bytes=1023-1023", 1023, 1023),
    ],
    ids=["first-last", "open-ended", "suffix", "clamped", "long-suffix", "last-byte"],
)
def test_single_range_gives_206(send: Send, range_value: str, start: int, end: int) -> None:
    exchange = send([("Range", range_value)])
    assert exchange.status == 206
    assert exchange.body == CONTENT[start : end + 1]
    assert exchange.header("content-range") == f"bytes {start}-{end}/{len(CONTENT)}"
    assert exchange.header("content-length") == str(end - start + 1)
    assert exchange.header("accept-ranges") == "bytes"


@pytest.mark.parametrize("range_value", ["bytes=1024-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_range_gives_416(send: Send, range_value: str) -> None:
    exchange = send([("Range", range_value)])
    assert exchange.status == 416
    assert exchange.header("content-range") == f"bytes */{len(CONTENT)}"
    assert CONTENT[:16] not in exchange.body


@pytest.mark.parametrize(
    "range_value",
    ["bytes=0-1,5-6", "bytes=0-0,-1", "bytes=5-1", "bytes=x", "pages=1-2", "bytes=0-1, bytes=2-3"],
    ids=["two", "first-and-last", "reversed", "malformed", "other-unit", "repeated"],
)
def test_ignored_range_gives_the_whole_file(send: Send, range_value: str) -> None:
    exchange = send([("Range", range_value)])
    assert exchange.status == 200
    assert exchange.body == CONTENT
    assert exchange.header("content-range") is None


def test_head_ignores_range(send: Send) -> None:
    exchange = send([("Range", "bytes=0-9")], "HEAD")
    assert exchange.status == 200
    assert exchange.header("content-length") == str(len(CONTENT))
    assert exchange.body == b""


@pytest.mark.parametrize(
    ("if_range", "status"),
    [
        ("{etag}", 206),
        (MTIME_TEXT, 206),
        ('"other"', 200),
        ("W/{etag}", 200),  # §13.1.5: a weak tag never matches
        (format_http_date(MTIME + 1), 200),  # only an exact date counts
        ("garbage", 200),
    ],
    ids=["etag", "date", "other-etag", "weak-etag", "other-date", "garbage"],
)
def test_if_range(send: Send, etag: str, if_range: str, status: int) -> None:
    exchange = send([("Range", "bytes=0-9"), ("If-Range", if_range.format(etag=etag))])
    assert exchange.status == status
    assert exchange.body == (CONTENT[:10] if status == 206 else CONTENT)


def test_range_on_an_empty_file_gives_200(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    exchange = FakeExchange("GET", "/empty.txt", [("Range", "bytes=0-")])
    serve_file(Request(exchange), open(path, "rb")).send(exchange)  # noqa: SIM115
    assert exchange.status == 200
    assert exchange.header("content-length") == "0"
    assert exchange.header("content-type") == "text/plain; charset=utf-8"  # from file.name


class BrokenExchange(FakeExchange):
    """A client that went away as the body started."""

    def send_file(self, file: BinaryIO, offset: int, count: int) -> None:
        raise BrokenPipeError("client went away")


def test_file_is_closed_when_the_client_goes_away() -> None:
    file = io.BytesIO(CONTENT)
    response: Response = FileResponse(file, 200, [], count=len(CONTENT))
    with pytest.raises(BrokenPipeError):
        response.send(BrokenExchange("GET", "/"))
    assert file.closed


def test_file_response_sends_a_slice(file_path: Path) -> None:
    exchange = FakeExchange("GET", "/")
    FileResponse(open(file_path, "rb"), 200, [], offset=10, count=5).send(exchange)  # noqa: SIM115
    assert exchange.body == CONTENT[10:15]
    assert exchange.header("content-length") == "5"
