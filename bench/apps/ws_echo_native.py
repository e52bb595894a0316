"""WebSocket echo on barehttp.web, parked: no thread per idle socket. ws_echo_native.py PORT."""

from __future__ import annotations

import sys

from barehttp.protocol.limits import Limits
from barehttp.server.serve import serve
from barehttp.web import App, WebSocket

app = App()


@app.websocket("/echo")
def echo(ws: WebSocket) -> None:
    ws.accept()

    def answer(message: str | bytes) -> None:
        if isinstance(message, str):
            ws.send_text(message)
        else:
            ws.send_bytes(message)

    ws.on_message(answer)


if __name__ == "__main__":
    limits = Limits(max_connections=30_000)
    sys.exit(serve(app, host="127.0.0.1", port=int(sys.argv[1]), limits=limits, access_log=False))
