"""The handler the server integration tests run: one path per behaviour under test."""

from __future__ import annotations

import threading
import time

from barehttp.server.handler import Exchange

HELLO = b"Hello, World!"
TEXT = [("Content-Type", "text/plain; charset=utf-8")]
SECRET = "s3cret-detail-that-must-not-leak"
BLOCK_WAIT_S = 10.0  # a blocked handler gives up after this, so no test can hang on it


class TestHandler:
    """Answers by path; ``entered``/``release`` let a test hold a request in flight."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.blocked_count = 0
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> None:
        path = exchange.head.path
        if path == "/":
            exchange.send_response(200, TEXT, HELLO)
        elif path == "/echo":
            self._echo(exchange)
        elif path == "/whoami":
            # The client's port: equal across requests only if the connection was reused.
            port = str(exchange.client_address[1])
            exchange.send_response(200, [*TEXT, ("X-Client-Port", port)], port.encode())
        elif path == "/stream":
            exchange.start_response(200, TEXT)
            for index in range(5):
                exchange.write(b"part %d\n" % index)
            exchange.end()
        elif path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            # The body must not be sent for 204/304, whatever the handler passes.
            exchange.send_response(status, TEXT, b"this body must not be sent")
        elif path == "/big":
            size = int(exchange.head.query.partition("=")[2] or 1_000_000)
            exchange.send_response(200, [("Content-Type", "application/octet-stream")], b"x" * size)
        elif path == "/boom":
            raise RuntimeError(f"handler failed with {SECRET}")
        elif path == "/silent":
            return  # no response: the server must answer 500
        elif path == "/block":
            with self._lock:
                self.blocked_count += 1
            self.entered.set()
            self.release.wait(BLOCK_WAIT_S)
            exchange.send_response(200, TEXT, b"released")
        elif path == "/sleep":
            time.sleep(float(exchange.head.query.partition("=")[2] or 0.5))
            exchange.send_response(200, TEXT, b"slept")
        else:
            exchange.send_response(404, TEXT, b"not found")

    @staticmethod
    def _echo(exchange: Exchange) -> None:
        parts: list[bytes] = []
        while chunk := exchange.read_body(4_096):
            parts.append(chunk)
        body = b"".join(parts)
        exchange.send_response(
            200,
            [("Content-Type", "application/octet-stream"), ("X-Body-Length", str(len(body)))],
            body,
        )
