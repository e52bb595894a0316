"""Import a WSGI application from ``MODULE:APP`` or ``MODULE:factory()``."""

from __future__ import annotations

from typing import cast
from wsgiref.types import WSGIApplication

from barehttp.server.app_loader import AppLoadError, check_loads_in_child, load_callable

__all__ = ["AppLoadError", "check_app", "load_app"]


def load_app(spec: str, *, chdir: str | None = None) -> WSGIApplication:
    """Load ``spec``; ``MODULE`` alone means ``MODULE:application`` (the Django
    convention). See :func:`barehttp.server.app_loader.load_callable`."""
    app = load_callable(spec, default_name="application", kind="WSGI", chdir=chdir)
    return cast(WSGIApplication, app)


def check_app(spec: str, *, chdir: str | None = None) -> None:
    """Load ``spec`` in a forked child (see ``check_loads_in_child``).

    Raises:
        AppLoadError: the child could not load ``spec``; the message says why.
    """
    check_loads_in_child(lambda: load_app(spec), spec, chdir=chdir)
