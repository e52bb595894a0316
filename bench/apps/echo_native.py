"""barehttp.web WebSocket echo, parked, and the hello answer over HTTP: echo_asgi.py's twin.

``python3 echo_native.py --host H --port P [--threads N] [--max-connections N]``.
The handler accepts, registers an ``on_message`` callback and returns: an idle
connection then holds no thread (the hub's epoll thread watches it), and each
message runs the callback on the worker pool, which sends it back.
"""

from __future__ import annotations

import argparse
import sys

from hello import BODY, CONTENT_TYPE

from barehttp.protocol.limits import Limits
from barehttp.server.serve import serve
from barehttp.web import App, Request, Response, WebSocket

app = App()


@app.get("/")
def hello(request: Request) -> Response:
    return Response(BODY, 200, [("Content-Type", CONTENT_TYPE)])


@app.websocket("/ws")
def echo(websocket: WebSocket) -> None:
    websocket.accept()

    def answer(message: str | bytes) -> None:
        if isinstance(message, str):
            websocket.send_text(message)
        else:
            websocket.send_bytes(message)

    websocket.on_message(answer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=Limits().worker_threads)
    parser.add_argument("--max-connections", type=int, default=Limits().max_connections)
    args = parser.parse_args()
    limits = Limits(worker_threads=args.threads, max_connections=args.max_connections)
    return serve(app, host=args.host, port=args.port, limits=limits, access_log=False)


if __name__ == "__main__":
    sys.exit(main())
