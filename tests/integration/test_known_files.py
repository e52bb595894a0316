"""Files served once are answered again from KnownFiles, but never stale and never outside."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from barehttp.server.server import Server
from barehttp.web import App
from barehttp.web.known_files import MEMORY_FILE_MAX_BYTES
from barehttp.web.static import StaticFiles
from barehttp.web.static_site import StaticSite

SECRET = b"outside the root"
TIMEOUT_S = 5


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "page.txt").write_bytes(SECRET)
    public = tmp_path / "public"
    (public / "docs").mkdir(parents=True)
    (public / "small.txt").write_bytes(b"version 1")
    (public / "docs" / "page.txt").write_bytes(b"inside")
    (public / "big.bin").write_bytes(os.urandom(MEMORY_FILE_MAX_BYTES + 1))
    return public


def start(handler: App) -> Iterator[str]:
    server = Server(handler, host="127.0.0.1", port=0, access_log=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.addresses[0][1]}"
    finally:
        server.shutdown(timeout=2.0)


@pytest.fixture(params=["site", "mount"])
def base(request: pytest.FixtureRequest, tree: Path) -> Iterator[str]:
    """The same tree behind StaticSite (its short path) and a plain /files/ mount."""
    if request.param == "site":
        yield from (url + "/" for url in start(StaticSite(StaticFiles(tree))))
    else:
        app = App()
        app.mount("/files/", StaticFiles(tree))
        yield from (url + "/files/" for url in start(app))


def get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=TIMEOUT_S)


def change(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    later = time.time() + 5  # a new mtime even on coarse-grained file systems
    os.utime(path, (later - 10, later - 10))


def test_a_changed_small_file_is_served_fresh(base: str, tree: Path) -> None:
    assert get(base + "small.txt").content == b"version 1"
    assert get(base + "small.txt").content == b"version 1"  # now answered from memory
    change(tree / "small.txt", b"version 2, longer")
    response = get(base + "small.txt")
    assert response.content == b"version 2, longer"
    assert response.headers["Content-Length"] == str(len(b"version 2, longer"))


def test_a_changed_large_file_is_served_fresh(base: str, tree: Path) -> None:
    first = get(base + "big.bin")
    assert first.content == (tree / "big.bin").read_bytes()
    replacement = os.urandom(MEMORY_FILE_MAX_BYTES + 7)
    change(tree / "big.bin", replacement)
    assert get(base + "big.bin").content == replacement


def test_a_file_swapped_for_a_symlink_outside_is_refused(base: str, tree: Path) -> None:
    assert get(base + "small.txt").status_code == 200
    (tree / "small.txt").unlink()
    (tree / "small.txt").symlink_to(tree.parent / "secret.txt")
    response = get(base + "small.txt")
    assert response.status_code == 404
    assert SECRET not in response.content


def test_a_directory_swapped_for_a_symlink_outside_is_refused(base: str, tree: Path) -> None:
    assert get(base + "docs/page.txt").content == b"inside"
    (tree / "docs" / "page.txt").unlink()
    (tree / "docs").rmdir()
    (tree / "docs").symlink_to(tree.parent / "outside")
    response = get(base + "docs/page.txt")
    assert response.status_code == 404
    assert SECRET not in response.content


def test_a_deleted_file_is_404(base: str, tree: Path) -> None:
    assert get(base + "small.txt").status_code == 200
    (tree / "small.txt").unlink()
    assert get(base + "small.txt").status_code == 404


def test_validators_and_ranges_still_apply_to_known_files(base: str) -> None:
    first = get(base + "small.txt")
    etag = first.headers["ETag"]
    assert get(base + "small.txt", **{"If-None-Match": etag}).status_code == 304
    partial = get(base + "small.txt", Range="bytes=0-6")
    assert partial.status_code == 206
    assert partial.content == b"version"
    head = requests.head(base + "small.txt", timeout=TIMEOUT_S)
    assert head.headers["Content-Length"] == "9"
    assert head.content == b""
    assert head.headers["ETag"] == etag
