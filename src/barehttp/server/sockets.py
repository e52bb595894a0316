"""Where a server listens: TCP, a Unix socket, an inherited descriptor, or systemd's sockets.

systemd socket activation (sd_listen_fds(3)): the manager opens the sockets and
starts the service with them as descriptors 3, 4, ... and sets ``LISTEN_FDS``
(how many) and ``LISTEN_PID`` (for whom: a child that inherits the environment
must not take them). Detected on its own; it takes precedence over every other
way of listening, as the unit file is then where the address is configured.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
from collections.abc import MutableMapping
from dataclasses import dataclass

from barehttp.protocol.limits import Limits
from barehttp.server.listener import (
    InheritedSocket,
    ListenError,
    bind_listeners,
    prepare_listener,
)

logger = logging.getLogger("barehttp.server")

SD_LISTEN_FDS_START = 3  # sd-daemon.h: the first passed descriptor
SYSTEMD_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")
# Listening descriptors a parent barehttp passes to its child ("5,6"): --reload.
INHERITED_FDS_VARIABLE = "BAREHTTP_INHERITED_FDS"


@dataclass(frozen=True, slots=True)
class ListenSpec:
    """One way to listen; the first that applies: systemd, ``fd``, ``uds``, host and port."""

    host: str | None = "127.0.0.1"
    port: int = 8000
    uds: str | None = None  # path of a Unix socket to create
    uds_mode: int | None = None  # its permission bits (None: what the umask gives)
    fd: int | None = None  # an inherited listening socket


def open_listeners(
    spec: ListenSpec, limits: Limits, environ: MutableMapping[str, str] | None = None
) -> list[socket.socket]:
    """Listening sockets for ``spec``, or those systemd passed in ``environ``.

    Raises:
        ListenError: with a message naming the socket and the cause.
    """
    environ = os.environ if environ is None else environ
    passed = environ.pop(INHERITED_FDS_VARIABLE, "")
    if passed:
        label = f"{INHERITED_FDS_VARIABLE}={passed}"
        if not all(part.isdigit() for part in passed.split(",")):
            raise ListenError(f"{label}: not a list of descriptors")
        return [inherit_listener(int(part), label, limits) for part in passed.split(",")]
    fds = systemd_descriptors(environ)
    if fds:
        for name in SYSTEMD_VARIABLES:  # not for our children (sd_listen_fds unsets them too)
            environ.pop(name, None)
        logger.info("using %d socket(s) from systemd socket activation", len(fds))
        return [inherit_listener(fd, f"systemd socket {fd}", limits) for fd in fds]
    if spec.fd is not None:
        return [inherit_listener(spec.fd, f"--fd {spec.fd}", limits)]
    if spec.uds is not None:
        return [bind_unix_listener(spec.uds, spec.uds_mode, limits)]
    return bind_listeners(spec.host, spec.port, limits)


def systemd_descriptors(environ: MutableMapping[str, str]) -> list[int]:
    """The descriptors systemd passed to this very process; [] if none."""
    if environ.get("LISTEN_PID", "") != str(os.getpid()):
        return []
    count = environ.get("LISTEN_FDS", "")
    if not count.isdigit():
        raise ListenError(f"systemd socket activation: LISTEN_FDS={count!r} is not a count")
    return list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)))


def inherit_listener(fd: int, label: str, limits: Limits) -> socket.socket:
    """The listening stream socket open as ``fd``, ready for an Acceptor."""
    try:
        sock = InheritedSocket(fileno=fd)
    except OSError as error:
        raise ListenError(f"{label}: {error.strerror}") from None
    try:
        listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
    except OSError:
        listening = 0
    if sock.type != socket.SOCK_STREAM or not listening:
        sock.detach()  # not ours to close
        raise ListenError(f"{label} is not a listening stream socket")
    sock.setblocking(True)  # a passed socket may be non-blocking: accept() would spin
    prepare_listener(sock, limits)
    return sock


def bind_unix_listener(path: str, mode: int | None, limits: Limits) -> socket.socket:
    """A Unix stream socket at ``path``; a stale one left by a killed server is replaced."""
    where = f"unix:{path}"
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise ListenError(f"cannot listen on {where}: {error.strerror}") from None
    else:
        if not stat.S_ISSOCK(existing.st_mode):
            raise ListenError(f"cannot listen on {where}: the path exists and is not a socket")
        if _is_served(path):
            raise ListenError(f"cannot listen on {where}: a server is running there")
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        if mode is not None:  # before listen(): no connection gets in with the wrong mode
            os.chmod(path, mode)
        prepare_listener(sock, limits)
        sock.listen(limits.listen_backlog)
    except OSError as error:
        sock.close()
        raise ListenError(f"cannot listen on {where}: {error.strerror}") from None
    return sock


def _is_served(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:  # ECONNREFUSED: nobody accepts there any more
        return False
    finally:
        probe.close()
    return True


def remove_unix_socket(path: str, inode: int, owner_pid: int) -> None:
    """Remove the socket file at exit: only in the process that made it, only if unchanged.

    Forked workers never remove it (they share the supervisor's), and a file
    another server has since put there is left alone.
    """
    if os.getpid() != owner_pid:
        return
    with contextlib.suppress(OSError):
        if os.lstat(path).st_ino == inode:
            os.unlink(path)
