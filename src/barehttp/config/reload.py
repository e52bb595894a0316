"""``--reload``: run the server in a child process, restart it when a source file changes.

For development. This process binds the listening sockets once and passes
them to each child (their descriptor numbers in ``BAREHTTP_INHERITED_FDS``, see
server/sockets.py), so the port stays open across restarts and no connection
is refused. It polls ``stat()`` of every ``.py`` file under the
watched directories (stdlib only, no inotify). When the new code fails to
start, it says so and waits for the next change.

The child runs in its own session, so a terminal's Ctrl-C reaches only this
process, which then stops the child once (SIGTERM: a graceful drain).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType

from barehttp.server.sockets import INHERITED_FDS_VARIABLE

logger = logging.getLogger("barehttp.server")

POLL_INTERVAL_S = 0.5  # how soon a saved file restarts the server
CHILD_STOP_TIMEOUT_S = 15.0  # then SIGKILL: a development server must not hang on exit
SKIPPED_DIRECTORIES = frozenset({"__pycache__", "node_modules", "site-packages"})
MAX_WATCHED_FILES = 20_000  # a bound on each scan's cost; past it, the rest is not watched

Snapshot = dict[str, tuple[int, int]]


def scan(directories: Iterable[Path]) -> Snapshot:
    """(mtime_ns, size) of every ``.py`` file below ``directories``, hidden ones skipped."""
    found: Snapshot = {}
    for directory in directories:
        for root, subdirectories, files in os.walk(directory):
            subdirectories[:] = [
                name
                for name in subdirectories
                if not name.startswith(".") and name not in SKIPPED_DIRECTORIES
            ]
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(root, name)
                try:
                    info = os.stat(path)
                except OSError:  # removed while we looked
                    continue
                found[path] = (info.st_mtime_ns, info.st_size)
                if len(found) >= MAX_WATCHED_FILES:
                    return found
    return found


def changed_paths(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


class Reloader:
    """Runs ``command`` with ``listeners`` passed in; restarts it on changes."""

    def __init__(
        self,
        command: Sequence[str],
        listeners: Sequence[socket.socket],
        directories: Sequence[Path],
    ) -> None:
        self._command = list(command)
        self._fds = [sock.fileno() for sock in listeners]
        self._directories = list(directories)
        self._child: subprocess.Popen[bytes] | None = None
        self._stop_signals = 0

    def run(self) -> int:
        """Until SIGINT/SIGTERM; returns the last child's exit status (0 if none ran)."""
        signal.signal(signal.SIGINT, self._on_stop)
        signal.signal(signal.SIGTERM, self._on_stop)
        shown = ", ".join(str(directory) for directory in self._directories)
        logger.info("reloading on changes to .py files under %s", shown)
        snapshot = scan(self._directories)
        self._start()
        status = 0
        while not self._stop_signals:
            time.sleep(POLL_INTERVAL_S)
            child = self._child
            if child is not None and child.poll() is not None:
                status = child.returncode
                logger.error(
                    "the server exited (status %d): waiting for a change to restart it", status
                )
                self._child = None
            latest = scan(self._directories)
            changed = changed_paths(snapshot, latest)
            if changed and not self._stop_signals:
                snapshot = latest
                logger.info("%s changed: restarting", changed[0])
                self._stop_child()
                self._start()
        return self._stop_child() if self._child is not None else status

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self._stop_signals += 1
        if self._stop_signals > 1 and self._child is not None:  # Ctrl-C again: no waiting
            self._child.kill()

    def _start(self) -> None:
        environ = {**os.environ, INHERITED_FDS_VARIABLE: ",".join(map(str, self._fds))}
        self._child = subprocess.Popen(
            self._command,
            env=environ,
            stdin=subprocess.DEVNULL,
            pass_fds=self._fds,
            start_new_session=True,
        )

    def _stop_child(self) -> int:
        child = self._child
        if child is None:
            return 0
        self._child = None
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        try:
            return child.wait(CHILD_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            logger.warning("the server did not stop in %.0f s: killing it", CHILD_STOP_TIMEOUT_S)
            child.kill()
            return child.wait()


def child_command(argv: Sequence[str]) -> list[str]:
    """The command line of a child: the same options, without reloading itself."""
    return [sys.executable, "-m", "barehttp", *argv, "--no-reload"]


def watched_directories(command: str, chdir: str | None) -> list[Path]:
    """``wsgi``, ``asgi``: the application's directory (``--chdir`` or the current one);
    ``app``: barehttp's own package, whose code the accounts app is."""
    if command in ("wsgi", "asgi"):
        return [Path(chdir or ".").resolve()]
    return [Path(__file__).resolve().parent.parent]


def run_reloading(
    args: argparse.Namespace, argv: Sequence[str], listeners: Sequence[socket.socket]
) -> int:
    """``--reload``: run ``barehttp ARGV`` in a child on ``listeners``; restart on changes."""
    directories = watched_directories(args.command, getattr(args, "chdir", None))
    return Reloader(child_command(argv), listeners, directories).run()
