"""StaticFiles on a real server: traversal over raw sockets, caching, ranges, big files, CLI."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import trustme

from barehttp.protocol.limits import Limits
from barehttp.server.server import Server
from barehttp.server.tls import make_server_context
from barehttp.web import App
from barehttp.web.static import StaticFiles

SECRET = b"TOP-SECRET-7f3a-never-served"
PASSWD_MARKER = b"root:x:0:0"
BIG_FILE_MIB = 50
CLIENT_COUNT = 20
RSS_GROWTH_LIMIT_BYTES = 16 * 1024 * 1024  # one 50 MiB file read into memory would be 3x this
MIB = 1 << 20


@dataclass(frozen=True)
class Site:
    base: str
    port: int
    tmp: Path
    public: Path
    big_sha256: str
    big_size: int


@dataclass(frozen=True)
class RawResponse:
    status: int
    head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name.lower().encode():
                return value.strip().decode("latin-1")
        return None


def build_tree(tmp: Path) -> tuple[Path, str, int]:
    (tmp / "secret.txt").write_bytes(SECRET)
    (tmp / "outside").mkdir()
    (tmp / "outside" / "secret.txt").write_bytes(SECRET)
    public = tmp / "public"
    public.mkdir()
    (public / "hello.txt").write_bytes(b"hello world\n")
    (public / "app.js").write_text("console.log(1);\n")
    (public / "data.json").write_text('{"a": 1}')
    (public / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (public / "favicon.ico").write_bytes(b"\x00\x00\x01\x00favicon")
    (public / ".env").write_bytes(b"DOTFILE-SECRET")
    (public / "<script>.txt").write_text("x")
    (public / "docs").mkdir()
    (public / "docs" / "index.html").write_text("<h1>docs index</h1>")
    (public / "sub").mkdir()
    (public / "sub" / "file.txt").write_text("in sub")
    (public / "link_out").symlink_to("../secret.txt")
    (public / "link_dir_out").symlink_to("../outside")
    (public / "link_root").symlink_to("/")
    # 50 MiB of distinct blocks, so a misplaced offset shows in the hash.
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    with open(public / "big.bin", "wb") as big:
        for index in range(BIG_FILE_MIB):
            chunk = index.to_bytes(4, "big") + block[4:]
            digest.update(chunk)
            big.write(chunk)
    return public, digest.hexdigest(), BIG_FILE_MIB * MIB


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("static")
    public, big_sha256, big_size = build_tree(tmp)
    app = App()
    app.mount("/files/", StaticFiles(public))
    app.mount("/", StaticFiles(public, listing=True))
    server = Server(
        app, host="127.0.0.1", port=0, limits=Limits(worker_threads=32), access_log=False
    )
    server.start()
    port = server.addresses[0][1]
    yield Site(f"http://127.0.0.1:{port}", port, tmp, public, big_sha256, big_size)
    server.shutdown(timeout=2.0)


def raw_request(
    port: int, target: str, method: str = "GET", headers: tuple[str, ...] = ()
) -> RawResponse:
    """One request exactly as written (clients would normalise the path), read to EOF."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = bytearray()
        while chunk := sock.recv(65_536):
            data += chunk
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    return RawResponse(int(head.split(b" ", 2)[1]), head, body)


# -- traversal -------------------------------------------------------------------

TRAVERSALS = [
    "../secret.txt",
    "../../../../../../etc/passwd",
    "..%2fsecret.txt",
    "..%2f..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e/secret.txt",
    "%2e%2e%2fsecret.txt",
    "%2E%2E/secret.txt",
    ".%2e/secret.txt",
    "%2e./secret.txt",
    "..\\secret.txt",
    "..%5csecret.txt",
    "%5c..%5csecret.txt",
    "%2e%2e%5csecret.txt",
    "%252e%252e/secret.txt",
    "%252e%252e%252fsecret.txt",
    "..%252fsecret.txt",
    "..%255csecret.txt",
    "secret.txt%00.html",
    "%00/../secret.txt",
    ".%00./secret.txt",
    "/etc/passwd",
    "{absolute}",
    "%2f{absolute_no_slash}",
    "./../secret.txt",
    "sub/../../secret.txt",
    "sub/%2e%2e/%2e%2e/secret.txt",
    "link_out",
    "link_dir_out/secret.txt",
    "link_dir_out/",
    "link_root/etc/passwd",
    "%e2%80%a5/secret.txt",  # U+2025 two dot leader
    "%ef%bc%8e%ef%bc%8e/secret.txt",  # U+FF0E fullwidth full stops
    "%c0%ae%c0%ae/secret.txt",  # overlong UTF-8 "."
    "..%c0%afsecret.txt",  # overlong UTF-8 "/"
    "%e0%80%ae%e0%80%ae/secret.txt",  # 3-byte overlong "."
    "C:/secret.txt",
    "C:%5c..%5csecret.txt",
    "....//secret.txt",
    "..;/secret.txt",
    "..%u2215secret.txt",
    "..%",
    "..%2",
]


@pytest.mark.parametrize("prefix", ["/", "/files/"], ids=["root-mount", "files-mount"])
@pytest.mark.parametrize("attempt", TRAVERSALS)
def test_traversal_never_reaches_outside(site: Site, prefix: str, attempt: str) -> None:
    secret_path = str(site.tmp / "secret.txt")
    target = prefix + attempt.format(
        absolute=secret_path, absolute_no_slash=secret_path.lstrip("/")
    )
    response = raw_request(site.port, target)
    assert SECRET not in response.body
    assert PASSWD_MARKER not in response.body
    assert response.status in (400, 404), target


def test_traversal_in_an_absolute_form_target(site: Site) -> None:
    response = raw_request(site.port, f"http://127.0.0.1:{site.port}/../secret.txt")
    assert response.status in (400, 404)
    assert SECRET not in response.body


def test_dotfiles_are_hidden(site: Site) -> None:
    for target in ("/.env", "/files/.env", "/%2eenv"):
        response = raw_request(site.port, target)
        assert response.status == 404
        assert b"DOTFILE-SECRET" not in response.body


# -- files, types, HEAD, methods ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/hello.txt", "text/plain; charset=utf-8"),
        ("/app.js", "text/javascript; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/logo.svg", "image/svg+xml; charset=utf-8"),
        ("/big.bin", "application/octet-stream"),
    ],
)
def test_content_types(site: Site, path: str, content_type: str) -> None:
    response = requests.head(site.base + path, timeout=5)
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Accept-Ranges"] == "bytes"


def test_favicon_from_a_root_mount(site: Site) -> None:
    response = requests.get(site.base + "/favicon.ico", timeout=5)
    assert response.status_code == 200
    assert response.content == b"\x00\x00\x01\x00favicon"


def test_head_answers_without_streaming(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_sendfile_calls(monkeypatch)
    response = raw_request(site.port, "/big.bin", "HEAD")
    assert response.status == 200
    assert response.header("Content-Length") == str(site.big_size)
    assert response.body == b""
    assert calls == []


def test_other_methods_get_405(site: Site) -> None:
    response = requests.post(site.base + "/hello.txt", data=b"x", timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


# -- conditional requests and ranges ------------------------------------------------


def test_etag_and_if_none_match_on_one_connection(site: Site) -> None:
    with requests.Session() as session:
        first = session.get(site.base + "/hello.txt", timeout=5)
        etag = first.headers["ETag"]
        revalidated = session.get(
            site.base + "/hello.txt", headers={"If-None-Match": etag}, timeout=5
        )
        assert revalidated.status_code == 304
        assert revalidated.content == b""
        assert revalidated.headers["ETag"] == etag
        weak = session.get(
            site.base + "/hello.txt", headers={"If-None-Match": f'"x", W/{etag}'}, timeout=5
        )
        assert weak.status_code == 304
        after = session.get(site.base + "/hello.txt", timeout=5)  # framing still in step
        assert after.content == b"hello world\n"


def test_if_modified_since(site: Site) -> None:
    last_modified = requests.head(site.base + "/hello.txt", timeout=5).headers["Last-Modified"]
    response = requests.get(
        site.base + "/hello.txt", headers={"If-Modified-Since": last_modified}, timeout=5
    )
    assert response.status_code == 304
    stale = requests.get(
        site.base + "/hello.txt",
        headers={"If-Modified-Since": last_modified, "If-None-Match": '"stale"'},
        timeout=5,
    )
    assert stale.status_code == 200  # If-None-Match wins (RFC 9110 §13.1.3)


@pytest.mark.parametrize(
    ("range_value", "start", "end"),
    [("bytes=0-99", 0, 99), (f"bytes={MIB}-", MIB, None), ("bytes=-500", None, None)],
    ids=["first-last", "open-ended", "suffix"],
)
def test_range_forms(site: Site, range_value: str, start: int | None, end: int | None) -> None:
    size = site.big_size
    first = size - 500 if start is None else start
    last = size - 1 if end is None else end
    response = raw_request(site.port, "/big.bin", headers=(f"Range: {range_value}",))
    assert response.status == 206
    assert response.header("Content-Range") == f"bytes {first}-{last}/{size}"
    assert len(response.body) == last - first + 1
    with open(site.public / "big.bin", "rb") as big:
        big.seek(first)
        assert response.body == big.read(last - first + 1)


def test_unsatisfiable_range(site: Site) -> None:
    response = raw_request(site.port, "/hello.txt", headers=("Range: bytes=500-",))
    assert response.status == 416
    assert response.header("Content-Range") == "bytes */12"


def test_multiple_ranges_get_the_whole_file(site: Site) -> None:
    response = raw_request(site.port, "/hello.txt", headers=("Range: bytes=0-1,4-5",))
    assert response.status == 200
    assert response.body == b"hello world\n"


def test_malformed_range_is_ignored(site: Site) -> None:
    response = raw_request(site.port, "/hello.txt", headers=("Range: bytes=9-1",))
    assert response.status == 200
    assert response.body == b"hello world\n"


def test_if_range(site: Site) -> None:
    etag = requests.head(site.base + "/hello.txt", timeout=5).headers["ETag"]
    matching = raw_request(
        site.port, "/hello.txt", headers=("Range: bytes=0-4", f"If-Range: {etag}")
    )
    assert (matching.status, matching.body) == (206, b"hello")
    stale = raw_request(
        site.port, "/hello.txt", headers=("Range: bytes=0-4", 'If-Range: "old-version"')
    )
    assert (stale.status, stale.body) == (200, b"hello world\n")


# -- directories --------------------------------------------------------------------


def test_directory_redirect_index_and_listing(site: Site) -> None:
    redirect = requests.get(site.base + "/docs", allow_redirects=False, timeout=5)
    assert redirect.status_code == 308
    assert redirect.headers["Location"] == "/docs/"
    assert requests.get(site.base + "/docs", timeout=5).text == "<h1>docs index</h1>"
    listing = requests.get(site.base + "/", timeout=5)
    assert listing.status_code == 200
    assert '<a href="%3Cscript%3E.txt">&lt;script&gt;.txt</a>' in listing.text
    assert "<script>" not in listing.text
    assert ".env" not in listing.text
    assert '<a href="sub/">sub/</a>' in listing.text
    assert "link_out" not in listing.text


def test_listing_is_off_for_a_mount_by_default(site: Site) -> None:
    assert requests.get(site.base + "/files/", timeout=5).status_code == 404
    assert requests.get(site.base + "/files/sub/", timeout=5).status_code == 404


def test_options_asterisk_answers_for_the_server(site: Site) -> None:
    response = raw_request(site.port, "*", method="OPTIONS")  # RFC 9110 §9.3.7
    assert response.status == 200
    assert response.header("allow") == "GET, HEAD, OPTIONS"
    assert raw_request(site.port, "*", method="GET").status == 400  # RFC 9112 §3.2.4


def test_a_mount_prefix_without_its_slash_redirects(site: Site) -> None:
    response = raw_request(site.port, "/files?x=1")
    assert response.status == 308
    assert response.header("location") == "/files/?x=1"
    assert raw_request(site.port, "/files", method="HEAD").status == 308
    assert raw_request(site.port, "/files", method="POST").status != 308


# -- big files ------------------------------------------------------------------------


def count_sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real_sendfile = os.sendfile

    def counting_sendfile(out_fd: int, in_fd: int, offset: int | None, count: int) -> int:
        calls.append(count)
        return real_sendfile(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", counting_sendfile)
    return calls


def fetch_counting(port: int, buffer: bytearray, hasher: hashlib._Hash | None = None) -> int:
    """GET /big.bin into a fixed buffer; returns the body length (headers are < 1 KiB)."""
    view = memoryview(buffer)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            received = sock.recv(1024)
            assert received, "connection closed before the head"
            head += received
        head, _, first = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        total = len(first)
        if hasher is not None:
            hasher.update(first)
        while received_count := sock.recv_into(view):
            total += received_count
            if hasher is not None:
                hasher.update(view[:received_count])
    return total


def test_big_file_downloads_intact_with_sendfile(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_sendfile_calls(monkeypatch)
    hasher = hashlib.sha256()
    assert fetch_counting(site.port, bytearray(MIB), hasher) == site.big_size
    assert hasher.hexdigest() == site.big_sha256
    assert calls, "the body did not go through os.sendfile"


def read_rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_memory_stays_flat_with_concurrent_downloads(site: Site) -> None:
    buffers = [bytearray(256 * 1024) for _ in range(CLIENT_COUNT)]  # allocated before baseline
    fetch_counting(site.port, buffers[0])  # warm up worker threads and page cache
    baseline = read_rss_bytes()
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, read_rss_bytes())
            time.sleep(0.005)

    sizes: list[int] = []
    sampler = threading.Thread(target=sample)
    sampler.start()
    clients = [
        threading.Thread(target=lambda b=buffer: sizes.append(fetch_counting(site.port, b)))
        for buffer in buffers
    ]
    started = time.monotonic()
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=30)
    done.set()
    sampler.join()
    assert sizes == [site.big_size] * CLIENT_COUNT
    assert time.monotonic() - started < 30
    assert peak - baseline < RSS_GROWTH_LIMIT_BYTES, f"RSS grew {(peak - baseline) / MIB:.1f} MiB"


def open_descriptor_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_file_is_closed_when_the_client_disconnects(site: Site) -> None:
    raw_request(site.port, "/hello.txt")  # let the connection from a previous test settle
    before = open_descriptor_count()
    sock = socket.create_connection(("127.0.0.1", site.port), timeout=5)
    sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(65_536).startswith(b"HTTP/1.1 200 ")
    # RST at once rather than FIN, as a client killed mid-download would.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()
    deadline = time.monotonic() + 20
    while open_descriptor_count() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert open_descriptor_count() <= before
    assert raw_request(site.port, "/hello.txt").status == 200  # the server carries on


# -- barehttp serve -----------------------------------------------------------------------


LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


@pytest.fixture
def run_cli(site: Site, tmp_path: Path) -> Iterator[Callable[..., int]]:
    """``run_cli(*options)`` starts ``barehttp serve`` on port 0; returns the port it
    logged (no free port picked here and bound later, which another process could take)."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> int:
        log_path = tmp_path / f"serve-{len(processes)}.log"
        command = [sys.executable, "-m", "barehttp.cli", "serve", str(site.public)]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, "--port", "0", "--no-access-log", *options],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        processes.append(process)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            log_text = log_path.read_text(errors="replace")
            assert process.poll() is None, f"barehttp serve exited: {log_text}"
            if match := LISTENING.search(log_text):
                return int(match.group(1))
            time.sleep(0.05)
        raise AssertionError("barehttp serve did not start listening")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_cli_serve_lists_and_serves_favicon(run_cli: Callable[..., int]) -> None:
    port = run_cli()
    base = f"http://127.0.0.1:{port}"
    favicon = requests.get(base + "/favicon.ico", timeout=5)
    assert favicon.status_code == 200
    assert favicon.content == b"\x00\x00\x01\x00favicon"
    assert favicon.headers["Cache-Control"] == "no-cache"
    listing = requests.get(base + "/", timeout=5)
    assert listing.status_code == 200
    assert "hello.txt" in listing.text
    assert raw_request(port, "/../secret.txt").status in (400, 404)


def test_cli_serve_no_listing(run_cli: Callable[..., int]) -> None:
    port = run_cli("--no-listing", "--cache-control", "public, max-age=60")
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 404
    hello = requests.get(f"http://127.0.0.1:{port}/hello.txt", timeout=5)
    assert hello.headers["Cache-Control"] == "public, max-age=60"


# -- HTTPS: no sendfile, chunked reads from the file instead ---------------------------


def test_ranges_and_files_over_tls(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = trustme.CA()
    cert_path, ca_path = tmp_path / "server.pem", tmp_path / "ca.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    ca.cert_pem.write_to_path(str(ca_path))
    app = App()
    app.mount("/", StaticFiles(site.public))
    server = Server(
        app,
        host="127.0.0.1",
        port=0,
        access_log=False,
        ssl_context=make_server_context(str(cert_path)),
    )
    server.start()
    calls = count_sendfile_calls(monkeypatch)
    try:
        base = f"https://127.0.0.1:{server.addresses[0][1]}"
        first, last = 3 * MIB - 7, 6 * MIB + 11  # crosses the server's read chunks
        response = requests.get(
            base + "/big.bin",
            headers={"Range": f"bytes={first}-{last}"},
            verify=str(ca_path),
            timeout=10,
        )
        assert response.status_code == 206
        with open(site.public / "big.bin", "rb") as big:
            big.seek(first)
            assert response.content == big.read(last - first + 1)
        hello = requests.get(base + "/hello.txt", verify=str(ca_path), timeout=10)
        assert hello.content == b"hello world\n"
        assert calls == []  # TLS cannot use sendfile: the bytes went through SSL writes
    finally:
        server.shutdown(timeout=2.0)
