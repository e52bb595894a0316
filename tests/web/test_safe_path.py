"""What a request path may name below a static root (web/safe_path.py), without serving."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from barehttp.protocol.errors import BadRequest
from barehttp.web.errors import NotFound
from barehttp.web.safe_path import open_inside, requested_names


@pytest.mark.parametrize(
    ("raw_path", "suffix", "expected"),
    [
        ("/a/b.txt", None, (["a", "b.txt"], False)),
        ("/a/", None, (["a"], True)),
        ("/", None, ([], True)),
        ("/static/a%20b", "a b", (["a b"], False)),
        ("/x/%252e", None, (["x", "%2e"], False)),  # decoded once: stays literal
    ],
)
def test_names_below_the_root(
    raw_path: str, suffix: str | None, expected: tuple[list[str], bool]
) -> None:
    assert requested_names(raw_path, suffix, show_dotfiles=False) == expected


@pytest.mark.parametrize(
    "raw_path",
    ["/a/../b", "/./a", "//etc/passwd", "/a%2fb", "/a%5cb", "/a\\b", "/a%00", "/C:/x", "/.git"],
)
def test_refused_names_are_not_found(raw_path: str) -> None:
    with pytest.raises(NotFound):
        requested_names(raw_path, None, show_dotfiles=False)


@pytest.mark.parametrize("raw_path", ["/a%zz", "/%c0%ae"])
def test_malformed_paths_are_bad_requests(raw_path: str) -> None:
    with pytest.raises(BadRequest):
        requested_names(raw_path, None, show_dotfiles=False)


def test_dotfiles_only_when_shown() -> None:
    assert requested_names("/.well-known", None, show_dotfiles=True) == ([".well-known"], False)


def test_a_symlink_out_of_the_root_is_not_opened(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").write_text("no")
    (root / "inside.txt").write_text("yes")
    (root / "link").symlink_to(tmp_path / "secret")
    opened = open_inside(str(root), str(root / "inside.txt"), show_dotfiles=False)
    try:
        assert opened.real_path == str(root / "inside.txt")
    finally:
        os.close(opened.fd)
    with pytest.raises(NotFound):
        open_inside(str(root), str(root / "link"), show_dotfiles=False)
