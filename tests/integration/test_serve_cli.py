"""`barehttp serve` as a new user meets it: types, listing sizes, odd names, redirects."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from barehttp.web import App
from barehttp.web.static import StaticFiles
from tests.integration.conftest import SpawnServer
from tests.web.fakes import FakeExchange

TIMEOUT_S = 10.0


def serve(spawn_server: SpawnServer, directory: Path) -> str:
    server = spawn_server(
        "-m", "barehttp.cli", "serve", str(directory), "--port", "{port}", "--no-access-log"
    )
    return server.url


def test_serve_gives_xhtml_its_type_and_lists_readable_sizes(
    spawn_server: SpawnServer, tmp_path: Path
) -> None:
    (tmp_path / "page.xhtml").write_text('<html xmlns="http://www.w3.org/1999/xhtml"/>')
    with open(tmp_path / "big.bin", "wb") as big:
        big.truncate(100 * 1024 * 1024)  # sparse
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name")
    url = serve(spawn_server, tmp_path)
    page = httpx.get(url + "/page.xhtml", timeout=TIMEOUT_S)
    assert page.headers["content-type"] == "application/xhtml+xml; charset=utf-8"
    listing = httpx.get(url + "/", timeout=TIMEOUT_S).text
    assert '<td title="104857600 bytes">100.0 MiB</td>' in listing
    assert "1 not shown: its name is not valid UTF-8" in listing
    # Every link in the listing works.
    for href in ("page.xhtml", "big.bin"):
        assert f'href="{href}"' in listing
        assert httpx.head(f"{url}/{href}", timeout=TIMEOUT_S).status_code == 200


def test_a_directory_without_its_slash_is_308_in_serve_and_under_a_mount(
    spawn_server: SpawnServer, tmp_path: Path
) -> None:
    (tmp_path / "docs").mkdir()
    url = serve(spawn_server, tmp_path)
    served = httpx.get(url + "/docs?x=1", timeout=TIMEOUT_S)
    assert (served.status_code, served.headers["location"]) == (308, "/docs/?x=1")

    app = App()
    app.mount("/files/", StaticFiles(tmp_path))
    for target, location in (("/files", "/files/"), ("/files/docs", "/files/docs/")):
        exchange = FakeExchange("GET", target)
        app(exchange)
        assert (exchange.status, exchange.header("location")) == (308, location)
