"""Import a WSGI application from ``MODULE:APP`` or ``MODULE:factory()``."""

from __future__ import annotations

import os
import traceback
from typing import cast
from wsgiref.types import WSGIApplication

from barehttp.server.app_loader import AppLoadError, load_callable, prepare_import_path

__all__ = ["AppLoadError", "check_app", "load_app"]


def load_app(spec: str, *, chdir: str | None = None) -> WSGIApplication:
    """Load ``spec``; ``MODULE`` alone means ``MODULE:application`` (the Django
    convention). See :func:`barehttp.server.app_loader.load_callable`."""
    app = load_callable(spec, default_name="application", kind="WSGI", chdir=chdir)
    return cast(WSGIApplication, app)


def check_app(spec: str, *, chdir: str | None = None) -> None:
    """Load ``spec`` in a forked child and report whether that worked.

    For pre-forked workers: the supervisor must fail fast on a bad spec, yet
    not import the application itself, or every worker it forks would inherit
    the imported modules and a SIGHUP reload would serve the old code.

    Raises:
        AppLoadError: the child could not load ``spec``; the message says why.
    """
    prepare_import_path(chdir)  # in the parent, so that the workers inherit it
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: load, report, and leave without running parent cleanup
        os.close(read_fd)
        status = 0
        try:
            load_app(spec)
        except AppLoadError as error:
            os.write(write_fd, str(error).encode(errors="replace"))
            status = 2
        except BaseException:
            os.write(write_fd, traceback.format_exc().encode(errors="replace"))
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        message = pipe.read().decode(errors="replace")  # to EOF: the child may write a lot
    _, status = os.waitpid(pid, 0)
    if message or os.waitstatus_to_exitcode(status) != 0:
        raise AppLoadError(message or f"loading {spec!r} failed (status {status})")
