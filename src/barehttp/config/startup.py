"""Start-up checks that turn a failure into one line naming what is at fault."""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Callable

from barehttp.server.tls import make_server_context


class StartupError(Exception):
    """The server cannot start; the message (one line, no traceback) says why."""


def check_tls_files(certfile: str, keyfile: str | None) -> None:
    """Load the certificate and key once, as the server will, and explain a failure.

    Raises:
        StartupError: a file is missing or unreadable, not PEM, or the key does
            not belong to the certificate.
    """
    for label, path in (("certificate", certfile), ("private key", keyfile)):
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as error:
            raise StartupError(f"cannot read {label} file {path}: {error.strerror}") from None
    try:
        make_server_context(certfile, keyfile)
    except ssl.SSLError as error:
        reason = error.reason or ""
        if reason == "KEY_VALUES_MISMATCH":
            raise StartupError(
                f"the private key in {keyfile or certfile} does not match the certificate "
                f"in {certfile}"
            ) from None
        raise StartupError(
            f"cannot load certificate {certfile}"
            + (f" with key {keyfile}" if keyfile else "")
            + f": {reason or error} (expected PEM files)"
        ) from None


def port_hint(directory: str) -> str:
    """For ``barehttp serve 8000``: the number was surely meant as the port."""
    if directory.isdigit():
        return f" (to serve this directory on port {directory}: barehttp serve --port {directory})"
    return ""


# Loads an application in a fresh interpreter: the server's threads never fork.
_LOAD_CHECK = (
    "import importlib, sys\n"
    "from barehttp.server.app_loader import AppLoadError\n"
    "load_app = importlib.import_module(sys.argv[2]).load_app\n"
    "try:\n"
    "    load_app(sys.argv[1])\n"
    "except AppLoadError as error:\n"
    "    sys.exit(str(error))\n"
)
LOAD_CHECK_TIMEOUT_S = 60.0


def app_load_check(spec: str, loader: str = "barehttp.wsgi.loader") -> Callable[[], str | None]:
    """For SIGHUP: does ``spec`` load now, from the current directory? None if so.

    ``loader`` is the module whose ``load_app`` loads it (the ASGI host's for ASGI).
    """

    def check() -> str | None:
        try:
            result = subprocess.run(
                [sys.executable, "-c", _LOAD_CHECK, spec, loader],
                capture_output=True,
                text=True,
                timeout=LOAD_CHECK_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return str(error)
        if result.returncode == 0:
            return None
        lines = result.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit status {result.returncode}"

    return check
