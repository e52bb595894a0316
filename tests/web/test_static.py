import os
from pathlib import Path
from typing import IO

import pytest

from barehttp.web import App
from barehttp.web.static import StaticFiles
from tests.web.fakes import FakeExchange

SECRET = b"TOP-SECRET-outside-the-root"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """public/ is served; secret.txt and outside/ sit next to it, outside the root."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    public = tmp_path / "public"
    public.mkdir()
    (public / "hello.txt").write_bytes(b"hello world\n")
    (public / "style.css").write_text("body{}")
    (public / "app.js").write_text("let a;")
    (public / "data.json").write_text("{}")
    (public / "logo.svg").write_text("<svg/>")
    (public / "photo.png").write_bytes(b"\x89PNG\r\n")
    (public / "archive.tar.gz").write_bytes(b"\x1f\x8b")
    (public / "noextension").write_bytes(b"?")
    (public / "page.html").write_text("<p>page</p>")
    (public / "favicon.ico").write_bytes(b"\x00\x00\x01\x00icon")
    (public / ".env").write_text("PASSWORD=x")
    (public / ".git").mkdir()
    (public / ".git" / "config").write_text("[core]")
    (public / "<script>.txt").write_text("xss")
    (public / "docs").mkdir()
    (public / "docs" / "index.html").write_text("<h1>docs</h1>")
    (public / "docs" / "guide.txt").write_text("guide")
    (public / "empty").mkdir()
    (public / "nested").mkdir()
    (public / "nested" / "deep").mkdir()
    (public / "link_in").symlink_to("hello.txt")
    (public / "link_dir_in").symlink_to("docs")
    (public / "link_out").symlink_to("../secret.txt")
    (public / "link_out_abs").symlink_to(tmp_path / "secret.txt")
    (public / "link_dir_out").symlink_to("../outside")
    (public / "link_to_hidden").symlink_to(".git")
    os.mkfifo(public / "fifo")
    return public


def call(
    handler: App, target: str, method: str = "GET", headers: list[tuple[str, str]] | None = None
) -> FakeExchange:
    exchange = FakeExchange(method, target, headers)
    handler(exchange)
    return exchange


def app_with(root: Path, prefix: str = "/static/", **options: object) -> App:
    app = App()
    app.mount(prefix, StaticFiles(root, **options))  # type: ignore[arg-type]
    return app


@pytest.fixture
def app(root: Path) -> App:
    return app_with(root)


def test_serves_a_file_with_its_metadata(app: App) -> None:
    exchange = call(app, "/static/hello.txt")
    assert exchange.status == 200
    assert exchange.body == b"hello world\n"
    assert exchange.header("content-type") == "text/plain; charset=utf-8"
    assert exchange.header("content-length") == "12"
    assert exchange.header("x-content-type-options") == "nosniff"
    assert exchange.header("accept-ranges") == "bytes"
    assert exchange.header("cache-control") == "public, max-age=3600"
    assert (exchange.header("etag") or "").startswith('"')  # strong
    assert (exchange.header("last-modified") or "").endswith(" GMT")
    assert not exchange.streamed  # a Content-Length, not chunked


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("hello.txt", "text/plain; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("data.json", "application/json"),
        ("logo.svg", "image/svg+xml; charset=utf-8"),
        ("photo.png", "image/png"),
        ("page.html", "text/html; charset=utf-8"),
        ("archive.tar.gz", "application/gzip"),
        ("noextension", "application/octet-stream"),
        ("favicon.ico", "image/vnd.microsoft.icon"),
    ],
    ids=["txt", "css", "js", "json", "svg", "png", "html", "tar-gz", "unknown", "ico"],
)
def test_content_type_from_the_file_name(app: App, name: str, content_type: str) -> None:
    assert call(app, f"/static/{name}").header("content-type") == content_type


def test_cache_control_is_configurable_per_mount(root: Path) -> None:
    app = App()
    app.mount("/long/", StaticFiles(root, cache_control="public, max-age=31536000, immutable"))
    app.mount("/none/", StaticFiles(root, cache_control=None))
    long_lived = call(app, "/long/hello.txt")
    assert long_lived.header("cache-control") == "public, max-age=31536000, immutable"
    assert call(app, "/none/hello.txt").header("cache-control") is None


def test_several_mounts_each_serve_their_own_root(root: Path) -> None:
    app = App()
    app.mount("/images/", StaticFiles(root / "docs"))
    app.mount("/assets/", StaticFiles(root / "nested"))
    app.mount("/", StaticFiles(root))
    assert call(app, "/images/guide.txt").body == b"guide"
    assert call(app, "/assets/guide.txt").status == 404
    assert call(app, "/hello.txt").body == b"hello world\n"
    assert call(app, "/favicon.ico").body == b"\x00\x00\x01\x00icon"


@pytest.mark.parametrize(
    ("method", "target", "location"),
    [
        ("GET", "/images", "/images/"),
        ("HEAD", "/images", "/images/"),
        ("GET", "/images?lang=en", "/images/?lang=en"),
    ],
    ids=["get", "head", "query-kept"],
)
def test_a_mount_prefix_without_slash_redirects(
    root: Path, method: str, target: str, location: str
) -> None:
    app = App()
    app.mount("/images/", StaticFiles(root / "docs"))
    app.mount("/", StaticFiles(root))  # a shorter mount must not take "/images"
    exchange = call(app, target, method)
    assert exchange.status == 308
    assert exchange.header("location") == location
    assert exchange.body == b""
    followed = call(app, location, method)
    assert followed.status == 200
    assert followed.header("content-type") == "text/html; charset=utf-8"


def test_a_mount_prefix_without_slash_is_not_redirected_for_post(root: Path) -> None:
    app = app_with(root, "/images/")
    assert call(app, "/images", "POST").status == 404
    assert call(app, "/imagesX").status == 404


def test_a_plain_route_serves_the_whole_request_path(root: Path) -> None:
    app = App()
    app.add_route("GET", "/favicon.ico", StaticFiles(root))
    assert call(app, "/favicon.ico").status == 200


def test_head_sends_length_but_no_body(app: App) -> None:
    exchange = call(app, "/static/hello.txt", "HEAD")
    assert exchange.status == 200
    assert exchange.header("content-length") == "12"
    assert exchange.body == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405_with_allow(app: App, method: str) -> None:
    exchange = call(app, "/static/hello.txt", method)
    assert exchange.status == 405
    assert exchange.header("allow") == "GET, HEAD"


@pytest.mark.parametrize(
    "target",
    [
        "/static/.env",
        "/static/.git/config",
        "/static/.git/",
        "/static/%2eenv",
        "/static/link_to_hidden/config",
    ],
    ids=["dotfile", "in-dot-directory", "dot-directory", "encoded-dot", "symlink-into-dot-dir"],
)
def test_dotfiles_are_hidden(app: App, target: str) -> None:
    assert call(app, target).status == 404


def test_dotfiles_are_served_when_asked(root: Path) -> None:
    app = app_with(root, show_dotfiles=True)
    assert call(app, "/static/.env").body == b"PASSWORD=x"
    assert call(app, "/static/.git/config").body == b"[core]"
    assert call(app, "/static/../secret.txt").status == 404  # ".." stays refused


@pytest.mark.parametrize(
    "target",
    [
        "/static/../secret.txt",
        "/static/..%2fsecret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/.%2e/secret.txt",
        "/static/..%5csecret.txt",
        "/static/..\\secret.txt",
        "/static/%252e%252e/secret.txt",
        "/static/%00",
        "/static//etc/passwd",
        "/static/./../secret.txt",
        "/static/docs/../../secret.txt",
        "/static/C:/secret.txt",
        "/static/c:%5csecret.txt",
        "/static/%c0%ae%c0%ae/secret.txt",
        "/static/%e2%80%a5/secret.txt",
        "/static/link_out",
        "/static/link_out_abs",
        "/static/link_dir_out/secret.txt",
        "/static/link_dir_out/",
        "/static/%zz",
    ],
)
def test_traversal_is_refused(root: Path, target: str) -> None:
    app = app_with(root, listing=True, show_dotfiles=True)
    exchange = call(app, target)
    assert exchange.status in (400, 404)
    assert SECRET not in exchange.body


def test_symlinks_inside_the_root_are_followed(app: App) -> None:
    assert call(app, "/static/link_in").body == b"hello world\n"
    assert call(app, "/static/link_dir_in/guide.txt").body == b"guide"


def test_a_symlink_swapped_in_after_the_check_is_refused(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulates the race: realpath ran while "swapped" was a plain file; by the
    # open it is a symlink leading out. O_NOFOLLOW refuses the last component.
    (root / "swapped").symlink_to("../secret.txt")
    monkeypatch.setattr(os.path, "realpath", os.path.normpath)
    exchange = call(app_with(root), "/static/swapped")
    assert exchange.status == 404
    assert SECRET not in exchange.body


def test_a_directory_swapped_in_after_the_check_is_refused(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An intermediate directory swapped for a symlink is followed by open(), so
    # the descriptor's own path (/proc/self/fd) is what catches it.
    (root / "swapped_dir").symlink_to("../outside")
    app = app_with(root)
    monkeypatch.setattr(os.path, "realpath", os.path.normpath)
    exchange = call(app, "/static/swapped_dir/secret.txt")
    assert exchange.status == 404
    assert SECRET not in exchange.body


def test_a_fifo_is_refused_without_blocking(app: App) -> None:
    assert call(app, "/static/fifo").status == 404


def test_a_file_with_a_trailing_slash_is_not_found(app: App) -> None:
    assert call(app, "/static/hello.txt/").status == 404


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/static/docs", "/static/docs/"),
        ("/static/docs?lang=en", "/static/docs/?lang=en"),
        ("/static/nested/deep", "/static/nested/deep/"),
        ("/static/a%20b", None),  # no such directory: 404, no redirect
    ],
)
def test_a_directory_without_slash_redirects(
    root: Path, app: App, target: str, location: str | None
) -> None:
    exchange = call(app, target)
    if location is None:
        assert exchange.status == 404
    else:
        assert exchange.status == 308
        assert exchange.header("location") == location


def test_a_directory_serves_its_index(app: App) -> None:
    exchange = call(app, "/static/docs/")
    assert exchange.status == 200
    assert exchange.body == b"<h1>docs</h1>"
    assert exchange.header("content-type") == "text/html; charset=utf-8"


def test_index_name_is_configurable(root: Path) -> None:
    app = app_with(root, index="guide.txt")
    assert call(app, "/static/docs/").body == b"guide"
    assert call(app_with(root, index=None), "/static/docs/").status == 404


def test_listing_is_off_by_default_for_mounts(app: App) -> None:
    assert call(app, "/static/").status == 404
    assert call(app, "/static/empty/").status == 404


@pytest.fixture
def listing(root: Path) -> str:
    exchange = call(app_with(root, listing=True), "/static/")
    assert exchange.status == 200
    assert exchange.header("content-type") == "text/html; charset=utf-8"
    assert exchange.header("x-content-type-options") == "nosniff"
    assert "default-src 'none'" in (exchange.header("content-security-policy") or "")
    return exchange.body.decode()


def test_listing_escapes_and_quotes_names(listing: str) -> None:
    assert "<script>" not in listing
    assert '<a href="%3Cscript%3E.txt">&lt;script&gt;.txt</a>' in listing


def test_listing_hides_dotfiles_and_links_leading_out(listing: str) -> None:
    assert ".env" not in listing
    assert ".git" not in listing
    assert "link_out" not in listing
    assert "link_dir_out" not in listing
    assert 'href="link_in"' in listing  # a symlink inside the root is listed


def test_listing_sorts_directories_first_with_a_slash(listing: str) -> None:
    names = [part.split('"', 1)[0] for part in listing.split('<a href="')[1:]]
    directories = [name for name in names if name.endswith("/")]
    assert directories == ["docs/", "empty/", "link_dir_in/", "nested/"]
    files = names[len(directories) :]
    assert files == sorted(files, key=str.casefold)
    assert "../" not in names  # no parent link at the root of the mount


def test_listing_of_a_subdirectory_links_to_its_parent(root: Path) -> None:
    exchange = call(app_with(root, listing=True), "/static/nested/")
    page = exchange.body.decode()
    assert '<a href="../">../</a>' in page
    assert '<a href="deep/">deep/</a>' in page
    assert "Index of /static/nested/" in page


def test_listing_title_is_escaped(root: Path) -> None:
    (root / "<b>").mkdir()
    exchange = call(app_with(root, listing=True), "/static/%3Cb%3E/")
    assert exchange.status == 200
    assert "Index of /static/&lt;b&gt;/" in exchange.body.decode()


def test_a_root_that_is_not_a_directory_is_refused(root: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        StaticFiles(root / "hello.txt")
    with pytest.raises(ValueError, match="index"):
        StaticFiles(root, index="../secret.txt")


def test_the_file_is_closed_after_sending(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[IO[bytes]] = []
    real_fdopen = os.fdopen

    def recording_fdopen(fd: int, mode: str) -> IO[bytes]:
        file: IO[bytes] = real_fdopen(fd, mode)
        opened.append(file)
        return file

    monkeypatch.setattr(os, "fdopen", recording_fdopen)
    app = app_with(root)
    for headers in ([], [("Range", "bytes=0-1")], [("If-None-Match", "*")]):
        call(app, "/static/hello.txt", headers=headers)
    call(app, "/static/hello.txt", "HEAD")
    assert len(opened) == 4
    assert all(file.closed for file in opened)


def test_refused_requests_leave_no_descriptor_open(app: App) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for target in ("/static/docs", "/static/empty/", "/static/link_out", "/static/hello.txt/"):
        call(app, target)
    assert len(os.listdir("/proc/self/fd")) == before
