"""Listening sockets and the accept loop."""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
import sys
import threading
from collections.abc import Callable

from barehttp.protocol.limits import Limits
from barehttp.server.fd_limits import AcceptBackoff

logger = logging.getLogger("barehttp.server")

# Linux copies these options from the listening socket to every accepted one, so
# setting them once on the listener saves three system calls per connection.
OPTIONS_INHERITED = sys.platform.startswith("linux")


def set_socket_timeout(sock: socket.socket, option: int, seconds: float) -> None:
    """Set SO_RCVTIMEO/SO_SNDTIMEO: blocking calls give up after ``seconds``."""
    whole = int(seconds)
    micro = int((seconds - whole) * 1_000_000)
    sock.setsockopt(socket.SOL_SOCKET, option, struct.pack("ll", whole, micro))


def configure_connection_socket(sock: socket.socket, limits: Limits) -> None:
    """Per-connection options: no Nagle delay, bounded blocking reads and writes."""
    if sock.family != socket.AF_UNIX:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # A blocking recv() returns EAGAIN after linger_s: the worker then parks the
    # connection instead of waiting on an idle client (see connection.py).
    set_socket_timeout(sock, socket.SO_RCVTIMEO, limits.linger_s)
    # A client that stops reading its response stalls a send() at most this long.
    set_socket_timeout(sock, socket.SO_SNDTIMEO, limits.write_timeout_s)


class ListenError(OSError):
    """No listening socket: the message names the address and the cause, for the user."""


class InheritedSocket(socket.socket):
    """A listening socket this process did not create (``--fd``, systemd activation).

    Connections may have queued on it before we set the listener's options,
    so each accepted one is configured itself, even where Linux would copy them.
    """


# The client address of a connection over a Unix socket (which has no peer address).
UNIX_PEER = "unix"


def socket_address(name: object) -> tuple[str, int]:
    """(host, port) from getsockname()/accept(); ``(UNIX_PEER, 0)`` for a Unix socket."""
    if isinstance(name, tuple):
        return (str(name[0]), int(name[1]))
    return (UNIX_PEER, 0)


def describe_listener(sock: socket.socket, scheme: str = "http") -> str:
    """``http://127.0.0.1:8000``, ``https://[::1]:8443`` or ``unix:/run/app.sock``."""
    name = sock.getsockname()
    if sock.family == socket.AF_UNIX:
        return f"unix:{name!s}"
    return f"{scheme}://{describe_address(str(name[0]), int(name[1]))}"


# What each bind() failure means to someone starting a server.
_BIND_ERRORS = {
    errno.EADDRINUSE: "address already in use (is another server running there?)",
    errno.EACCES: "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)",
    errno.EADDRNOTAVAIL: "no such address on this machine",
}


def describe_address(host: str, port: int) -> str:
    """``127.0.0.1:8000`` or ``[::1]:8000``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_listeners(host: str | None, port: int, limits: Limits) -> list[socket.socket]:
    """Bind every address ``host`` resolves to (IPv4 and IPv6); None means all.

    Raises:
        ListenError: the host does not resolve, or an address cannot be bound.
    """
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as error:
        raise ListenError(f"cannot resolve host {host!r}: {error.strerror}") from None
    listeners: list[socket.socket] = []
    seen: set[tuple[int, str]] = set()
    try:
        for family, kind, proto, _, address in infos:
            key = (family, str(address[0]))
            if key in seen:
                continue
            seen.add(key)
            sock = socket.socket(family, kind, proto)
            listeners.append(sock)  # from here on, closed if anything below fails
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                # One socket per family, so "::" and "0.0.0.0" can both be bound.
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as error:
                cause = _BIND_ERRORS.get(error.errno or 0, error.strerror)
                raise ListenError(
                    f"cannot listen on {describe_address(str(address[0]), port)}: {cause}"
                ) from None
            # Before listen(): a connection completing its handshake copies the options
            # the listener has at that moment, and one without SO_RCVTIMEO would hold a
            # worker in recv() forever (never parked, never idle-timed-out).
            prepare_listener(sock, limits)
            sock.listen(limits.listen_backlog)
    except OSError:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def prepare_listener(sock: socket.socket, limits: Limits) -> None:
    """Options set on a listening socket before the accept loop runs."""
    if OPTIONS_INHERITED:
        configure_connection_socket(sock, limits)  # copied to every accepted socket


# Descriptors an Acceptor opens beside its listener: its epoll and its stop eventfd.
ACCEPTOR_EXTRA_DESCRIPTORS = 2
# stop() waits this long for the thread to leave a hand-over in progress.
_STOP_JOIN_S = 2.0

AcceptCallback = Callable[[socket.socket, tuple[str, int]], None]


class Acceptor:
    """A thread accepting connections on one listening socket.

    The listener does not block: the thread accepts while connections are
    queued, then waits in ``epoll`` for the next one or for ``stop()``, which
    wakes it at once (a bounded ``accept()`` would make a stop wait up to its
    bound, ``linger_s``). Pre-forked workers share the listener: a new
    connection wakes every waiting process, and one another process took
    first is an ``EAGAIN``: back to the wait. Not ``EPOLLEXCLUSIVE``: the one
    process it wakes may be a worker that is leaving, and then nobody accepts
    the connection until the next one arrives (a request lost during a reload).
    """

    def __init__(self, listener: socket.socket, limits: Limits, on_accept: AcceptCallback) -> None:
        self.listener = listener
        self._limits = limits
        self._on_accept = on_accept
        self._stopping = threading.Event()
        self._configure_each = not OPTIONS_INHERITED or isinstance(listener, InheritedSocket)
        prepare_listener(listener, limits)
        listener.setblocking(False)  # accepted sockets do not inherit O_NONBLOCK
        self._stop_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._waiter = select.epoll()
        self._waiter.register(listener.fileno(), select.EPOLLIN)
        self._waiter.register(self._stop_fd, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="barehttp-acceptor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting; the listening socket is closed. Once is enough."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        os.eventfd_write(self._stop_fd, 1)
        self._thread.join(timeout=_STOP_JOIN_S)
        self.listener.close()
        if not self._thread.is_alive():  # else it may still wait on them: left to the process
            self._waiter.close()
            os.close(self._stop_fd)

    def _run(self) -> None:
        listener = self.listener
        limits = self._limits
        on_accept = self._on_accept
        backoff = AcceptBackoff()
        configure_each = self._configure_each
        wait = self._waiter.poll
        while not self._stopping.is_set():
            try:
                sock, address = listener.accept()
            except BlockingIOError:
                wait()  # a connection, or stop()
                continue
            except OSError as error:
                if self._stopping.is_set():
                    return
                # EMFILE/ENFILE/ENOBUFS: back off rather than spin, log once a second.
                self._stopping.wait(backoff.failed(error))
                continue
            backoff.succeeded()
            if configure_each:
                sock.settimeout(None)
                configure_connection_socket(sock, limits)
            try:
                on_accept(sock, socket_address(address))
            except Exception:
                logger.exception("error while handing over a new connection")
                sock.close()
