"""Import a WSGI application from ``MODULE:APP`` or ``MODULE:factory()``."""

from __future__ import annotations

import importlib
import os
import re
import sys
from wsgiref.types import WSGIApplication

_SPEC = re.compile(r"(?P<module>[\w.]+)(?::(?P<name>[\w.]+)(?P<call>\(\))?)?")


class AppLoadError(Exception):
    """The application spec could not be turned into a WSGI callable."""


def load_app(spec: str, *, chdir: str | None = None) -> WSGIApplication:
    """Load ``spec``; the working directory goes on ``sys.path`` (as gunicorn does).

    ``MODULE`` alone means ``MODULE:application`` (the Django convention), and
    ``MODULE:create_app()`` calls a factory without arguments.
    """
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise AppLoadError(f"expected MODULE:APP or MODULE:factory(), got {spec!r}")
    if chdir:
        os.chdir(chdir)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(match.group("module"))
    except ImportError as error:
        raise AppLoadError(f"cannot import {match.group('module')!r}: {error}") from error
    target: object = module
    for part in (match.group("name") or "application").split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppLoadError(f"{spec!r}: {part!r} not found") from None
    if match.group("call"):
        if not callable(target):
            raise AppLoadError(f"{spec!r}: factory is not callable")
        target = target()
    if not callable(target):
        raise AppLoadError(f"{spec!r} is not a callable WSGI application")
    app: WSGIApplication = target
    return app
