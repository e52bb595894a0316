"""A barehttp server for descriptor-limit tests, run as a child under a low RLIMIT_NOFILE.

Prints ``port N`` once listening and serves until its stdin closes. ``/limits``
answers the soft limit and the connection cap in force; ``/hog?seconds=S`` opens
descriptors until none is left, holds them S seconds, then frees them.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import time

from barehttp.protocol.limits import Limits
from barehttp.server.handler import Exchange
from barehttp.server.server import Server


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    server: Server

    def handle(exchange: Exchange) -> None:
        path = exchange.head.path
        if path == "/limits":
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            body = f"{soft} {server.context.connection_limit}".encode()
        elif path == "/hog":
            held: list[int] = []
            try:
                while True:
                    held.append(os.open(os.devnull, os.O_RDONLY))
            except OSError:
                pass
            print("hogging", flush=True)
            time.sleep(float(exchange.head.query.partition("=")[2]))
            for fd in held:
                os.close(fd)
            body = b"freed"
        else:
            body = b"hello"
        exchange.send_response(200, [], body)

    server = Server(
        handle, host="127.0.0.1", port=0, limits=Limits(header_timeout_s=60.0), access_log=False
    )
    server.start()
    print(f"port {server.addresses[0][1]}", flush=True)
    sys.stdin.read()
    server.shutdown(timeout=1.0)


if __name__ == "__main__":
    main()
