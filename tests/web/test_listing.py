"""Directory listings: readable sizes, names a link can reach, common media types."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from barehttp.web import App
from barehttp.web.file_response import guess_media_type
from barehttp.web.listing import human_size, is_linkable
from barehttp.web.static import StaticFiles
from tests.web.fakes import FakeExchange

NOT_UTF8_NAME = b"caf\xe9.txt"  # latin-1 "café.txt"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (100 * 1024 * 1024, "100.0 MiB"),
        (5 * 1024**3 + 1, "5.0 GiB"),
        (2 * 1024**7, "2048.0 EiB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_a_name_that_is_not_utf8_is_not_linkable() -> None:
    assert is_linkable("café.txt")
    assert not is_linkable(os.fsdecode(NOT_UTF8_NAME))


@pytest.fixture
def listing(tmp_path: Path) -> str:
    with open(tmp_path / "big.iso", "wb") as big:
        big.truncate(100 * 1024 * 1024)  # sparse: no 100 MiB written
    (tmp_path / "small.txt").write_bytes(b"12345")
    (tmp_path / "café.txt").write_text("utf-8 name")
    (tmp_path / os.fsdecode(NOT_UTF8_NAME)).write_text("latin-1 name")
    (tmp_path / "sub").mkdir()
    app = App()
    app.mount("/", StaticFiles(tmp_path, listing=True))
    exchange = FakeExchange("GET", "/")
    app(exchange)
    assert exchange.status == 200
    return exchange.body.decode()


def test_listing_shows_readable_sizes_with_the_exact_count_in_a_title(listing: str) -> None:
    assert '<td title="104857600 bytes">100.0 MiB</td>' in listing
    assert '<td title="5 bytes">5 B</td>' in listing
    assert "<td>-</td>" in listing  # a directory has no size


def test_listing_leaves_out_names_that_are_not_utf8_and_says_why(listing: str) -> None:
    assert '<a href="caf%C3%A9.txt">café.txt</a>' in listing
    assert "%E9" not in listing and "caf\ufffd" not in listing
    assert "(1 not shown: its name is not valid UTF-8, which a link cannot name" in listing


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("page.xhtml", "application/xhtml+xml; charset=utf-8"),
        ("feed.atom", "application/atom+xml; charset=utf-8"),
        ("config.yaml", "application/yaml"),
        ("font.ttf", "font/ttf"),
        ("song.ogg", "audio/ogg"),
        ("song.flac", "audio/flac"),
        ("clip.mkv", "video/x-matroska"),
        ("app.js.map", "application/json"),
        ("book.epub", "application/epub+zip"),
        ("report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("data.7z", "application/x-7z-compressed"),
    ],
)
def test_common_media_types_beyond_the_builtin_table(name: str, media_type: str) -> None:
    assert guess_media_type(name) == media_type
