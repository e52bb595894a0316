"""Import an ASGI application from ``MODULE:APP`` or ``MODULE:factory()``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

from barehttp.server.app_loader import AppLoadError, check_loads_in_child, load_callable

__all__ = [
    "ASGIApp",
    "AppLoadError",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "check_app",
    "load_app",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def load_app(spec: str, *, chdir: str | None = None) -> ASGIApp:
    """Load ``spec``; ``MODULE`` alone means ``MODULE:app`` (the FastAPI and
    Starlette convention). See :func:`barehttp.server.app_loader.load_callable`."""
    return cast(ASGIApp, load_callable(spec, default_name="app", kind="ASGI", chdir=chdir))


def check_app(spec: str, *, chdir: str | None = None) -> None:
    """Load ``spec`` in a forked child (see ``check_loads_in_child``); for ``--workers``.

    Raises:
        AppLoadError: the child could not load ``spec``; the message says why.
    """
    check_loads_in_child(lambda: load_app(spec), spec, chdir=chdir)
