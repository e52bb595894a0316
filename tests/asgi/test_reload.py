"""``barehttp asgi --reload``: a saved change to the app's code is served without a restart."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.asgi.conftest import StartAsgi
from tests.wsgi.process import wait_until

APP_SOURCE = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"VERSION"})
"""


def test_reload_serves_the_changed_code(start: StartAsgi, tmp_path: Path) -> None:
    source = tmp_path / "app_dir" / "reload_probe.py"
    source.parent.mkdir()
    source.write_text(APP_SOURCE.replace("VERSION", "one"))
    server = start("reload_probe:app", "--chdir", str(source.parent), "--reload")
    assert httpx.get(server.url("/"), timeout=10).text == "one"
    source.write_text(APP_SOURCE.replace("VERSION", "two"))

    def serves_two() -> bool:
        try:
            return httpx.get(server.url("/"), timeout=10).text == "two"
        except httpx.TransportError:
            return False

    wait_until(serves_two, 20.0, "the new code to be served")
