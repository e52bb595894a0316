"""Routes needing storage answer 503 with Retry-After while it is unreachable."""

from __future__ import annotations

import pytest

from barehttp.app.unavailable import DatabaseUnavailable, StorageGuardedRouter, add_retry_after
from barehttp.storage.base import StorageError, StorageUnavailable
from barehttp.web.request import Request
from barehttp.web.response import Response
from barehttp.web.router import RequestHandler


def failing(error: Exception) -> RequestHandler:
    def handler(request: Request) -> Response:
        raise error

    return handler


NO_REQUEST: Request = object()  # type: ignore[assignment]  # the handlers never read it


def test_unavailable_storage_becomes_503_with_retry_after() -> None:
    router = StorageGuardedRouter(retry_after_s=7)
    route = router.add("GET", "/x", failing(StorageUnavailable("postgresql (u:***@h) down")))
    with pytest.raises(DatabaseUnavailable) as caught:
        route.handler(NO_REQUEST)
    assert caught.value.status == 503 and caught.value.retry_after_s == 7
    assert "***" not in caught.value.message  # the database's name is not the client's business
    response = add_retry_after(Response.text("503", 503), caught.value)
    assert response.get_header("retry-after") == "7"


def test_other_storage_errors_stay_500() -> None:
    router = StorageGuardedRouter(retry_after_s=7)
    route = router.add("GET", "/x", failing(StorageError("disk I/O error")))
    with pytest.raises(StorageError):
        route.handler(NO_REQUEST)


@pytest.mark.parametrize("value", [0, -1, True], ids=repr)
def test_retry_after_must_be_positive(value: int) -> None:
    with pytest.raises(ValueError, match="retry_after_s"):
        StorageGuardedRouter(retry_after_s=value)
