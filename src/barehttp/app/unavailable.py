"""503 with Retry-After for the routes that need the database while it cannot be reached.

Only the request that touched storage fails: pages and files that need no database
keep working, and nothing is cached about the outage, so the first request after the
database returns succeeds (the storage backend reconnects on its own).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from barehttp.protocol.errors import ServiceUnavailable
from barehttp.storage.base import StorageUnavailable
from barehttp.web.request import Request
from barehttp.web.response import Response
from barehttp.web.router import RequestHandler, Route, Router

logger = logging.getLogger("barehttp.app")


class DatabaseUnavailable(ServiceUnavailable):
    """503: the database is down, restarting or overloaded; try again after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("The service is briefly unavailable; please try again shortly.")
        self.retry_after_s = retry_after_s


class StorageGuardedRouter(Router):
    """A Router whose routes answer `DatabaseUnavailable` when storage is unreachable."""

    def __init__(self, *, retry_after_s: int) -> None:
        super().__init__()
        if isinstance(retry_after_s, bool) or retry_after_s < 1:
            raise ValueError(f"retry_after_s must be a whole number >= 1, got {retry_after_s!r}")
        self._retry_after_s = retry_after_s

    def add(self, methods: str | Iterable[str], pattern: str, handler: RequestHandler) -> Route:
        return super().add(methods, pattern, self._guard(handler))

    def _guard(self, handler: RequestHandler) -> RequestHandler:
        retry_after_s = self._retry_after_s

        def guarded(request: Request) -> Response:
            try:
                return handler(request)
            except StorageUnavailable as error:
                # The message names the database (password hidden), never the client.
                logger.warning("503 for %s: %s", request, error)
                raise DatabaseUnavailable(retry_after_s) from None

        return guarded


def add_retry_after(response: Response, error: Exception) -> Response:
    """Tell the client when to retry (RFC 9110 §10.2.3), if the error knows."""
    if isinstance(error, DatabaseUnavailable) and response.get_header("retry-after") is None:
        response.headers.append(("Retry-After", str(error.retry_after_s)))
    return response
