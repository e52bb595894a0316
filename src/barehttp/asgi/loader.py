"""Import an ASGI application from ``MODULE:APP`` or ``MODULE:factory()``."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SPEC = re.compile(r"(?P<module>[\w.]+)(?::(?P<name>[\w.]+)(?P<call>\(\))?)?")


class AppLoadError(Exception):
    """The application spec could not be turned into an ASGI 3 callable."""


def load_app(spec: str, *, chdir: str | None = None) -> ASGIApp:
    """Load ``spec``; the working directory goes on ``sys.path`` (as uvicorn does).

    ``MODULE`` alone means ``MODULE:app`` (the FastAPI and Starlette convention),
    and ``MODULE:create_app()`` calls a factory without arguments.
    """
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise AppLoadError(f"expected MODULE:APP or MODULE:factory(), got {spec!r}")
    if chdir:
        os.chdir(chdir)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(match.group("module"))
    except ImportError as error:
        raise AppLoadError(f"cannot import {match.group('module')!r}: {error}") from error
    target: object = module
    for part in (match.group("name") or "app").split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppLoadError(f"{spec!r}: {part!r} not found") from None
    if match.group("call"):
        if not callable(target):
            raise AppLoadError(f"{spec!r}: factory is not callable")
        try:
            inspect.signature(target).bind()
        except TypeError:
            raise AppLoadError(
                f"{spec!r}: the factory needs arguments; it is called with none"
            ) from None
        except ValueError:
            pass  # no signature to check (a builtin): just call it
        target = target()
    if not callable(target):
        raise AppLoadError(f"{spec!r} is not a callable ASGI application")
    app: ASGIApp = target
    return app
