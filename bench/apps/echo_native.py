"""barehttp.web WebSocket echo, parked, and the hello answer over HTTP: echo_asgi.py's twin.

``python3 echo_native.py --host H --port P [--threads N] [--max-connections N] [--workers N]``
(``--workers``: pre-forked worker processes, each with its own limits).
The handler accepts, registers an ``on_message`` callback and returns: an idle
connection then holds no thread (the hub's epoll thread watches it), and each
message runs the callback on the worker pool, which sends it back.
"""

from __future__ import annotations

import argparse
import sys

from hello import BODY, CONTENT_TYPE

from barehttp.protocol.limits import Limits
from barehttp.server.serve import serve, serve_in_workers
from barehttp.server.workers import WorkerOptions
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
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    limits = Limits(worker_threads=args.threads, max_connections=args.max_connections)
    if args.workers > 1:
        return serve_in_workers(
            lambda: app,
            options=WorkerOptions(count=args.workers),
            host=args.host,
            port=args.port,
            limits=limits,
            access_log=False,
        )
    return serve(app, host=args.host, port=args.port, limits=limits, access_log=False)


if __name__ == "__main__":
    sys.exit(main())
