"""Import the application a server hosts, from ``MODULE:APP`` or ``MODULE:factory()``.

Shared by the WSGI and ASGI hosts; only the default attribute name and what the
result must be called differ.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable

_SPEC = re.compile(r"(?P<module>[\w.]+)(?::(?P<name>[\w.]+)(?P<call>\(\))?)?")


class AppLoadError(Exception):
    """The application spec could not be turned into an application callable."""


def load_callable(spec: str, *, default_name: str, kind: str, chdir: str | None = None) -> object:
    """Load ``spec``; the working directory goes on ``sys.path`` (as gunicorn and uvicorn do).

    ``MODULE`` alone means ``MODULE:<default_name>``, and ``MODULE:create_app()``
    calls a factory without arguments. ``kind`` ("WSGI", "ASGI") names the
    application in errors.

    Raises:
        AppLoadError: the spec is malformed, does not import, or is not callable.
    """
    match = _SPEC.fullmatch(spec.strip())
    if match is None:
        raise AppLoadError(f"expected MODULE:APP or MODULE:factory(), got {spec!r}")
    prepare_import_path(chdir)
    try:
        module = importlib.import_module(match.group("module"))
    except ImportError as error:
        raise AppLoadError(f"cannot import {match.group('module')!r}: {error}") from error
    target: object = module
    for part in (match.group("name") or default_name).split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AppLoadError(f"{spec!r}: {part!r} not found") from None
    if match.group("call"):
        if not callable(target):
            raise AppLoadError(f"{spec!r}: factory is not callable")
        _check_takes_no_arguments(spec, target)
        target = target()
    if not callable(target):
        raise AppLoadError(f"{spec!r} is not a callable {kind} application")
    return target


def _check_takes_no_arguments(spec: str, factory: Callable[..., object]) -> None:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # no signature to check (a builtin): just call it
        return
    try:
        signature.bind()
    except TypeError:
        raise AppLoadError(
            f"{spec!r}: the factory needs arguments {signature}; it is called with none"
        ) from None


def prepare_import_path(chdir: str | None) -> None:
    """Enter ``chdir`` (if given) and put the working directory first on ``sys.path``."""
    if chdir:
        os.chdir(chdir)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def check_loads_in_child(load: Callable[[], object], spec: str, *, chdir: str | None) -> None:
    """Run ``load()`` in a forked child and report whether that worked.

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
            load()
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
