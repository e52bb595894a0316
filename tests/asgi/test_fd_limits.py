"""``barehttp asgi`` under a low RLIMIT_NOFILE: the soft limit is raised, connections capped
below it (one descriptor each), and a client over the cap is told 503, not left waiting."""

from __future__ import annotations

import re
import socket
import ssl
import time
from pathlib import Path

import httpx

from tests.wsgi.process import start_barehttp, wait_until

APP = "tests.asgi.apps.raw:app"
# Far below the 60 s idle timeout a client left waiting in the backlog would see; far
# above what a request takes on a loaded machine.
ANSWERED_WITHIN_S = 10.0
LOWERED = re.compile(r"max_connections lowered to (\d+)")


def open_files_limits(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no 'Max open files' in /proc/PID/limits")


def test_soft_limit_is_raised_and_connections_fit_one_descriptor_each(tmp_path: Path) -> None:
    server = start_barehttp(
        [APP], tmp_path / "server.log", host_command="asgi", open_files_limit=(256, 4_096)
    )
    try:
        assert open_files_limits(server.pid) == (4_096, 4_096)
        match = LOWERED.search(server.log())
        assert match is not None, server.log()
        # One descriptor per connection (the socket), less the reserve and what is open:
        # counting two, as the threaded server does, would stop near 2,000.
        assert 3_900 < int(match.group(1)) < 4_096 - 64
    finally:
        server.stop()


def test_client_over_the_descriptor_cap_gets_503_then_200_once_others_close(
    tmp_path: Path,
) -> None:
    server = start_barehttp(
        [APP, "--idle-timeout", "60"],
        tmp_path / "server.log",
        host_command="asgi",
        open_files_limit=(256, 256),
    )
    held: list[httpx.Client] = []
    try:
        match = LOWERED.search(server.log())
        assert match is not None, server.log()
        cap = int(match.group(1))
        assert cap < 256 - 64
        # Fill the cap a few connections at a time, each kept open after one answer.
        # Under 256 descriptors they would all fit without the cap, and so would the
        # next client: it gets 503 only because the cap keeps the reserve free.
        statuses: list[int] = []
        # One TLS context for all (plain HTTP here, but each client would load the CA
        # bundle: most of a second apiece on a loaded machine, minutes for the cap).
        shared_context = ssl.create_default_context()
        while len(held) < cap + 10:
            client = httpx.Client(
                timeout=ANSWERED_WITHIN_S,
                limits=httpx.Limits(max_connections=1),
                verify=shared_context,
                trust_env=False,
            )
            held.append(client)
            statuses.append(client.get(server.url("/")).status_code)
        assert statuses.count(200) == cap
        assert statuses.count(503) == 10
        started = time.monotonic()
        assert httpx.get(server.url("/"), timeout=ANSWERED_WITHIN_S).status_code == 503
        assert time.monotonic() - started < ANSWERED_WITHIN_S
        for client in held:
            client.close()
        held.clear()

        def is_served_again() -> bool:
            return httpx.get(server.url("/"), timeout=ANSWERED_WITHIN_S).status_code == 200

        wait_until(is_served_again, 30.0, "the server to serve again")
        assert "out of system resource" not in server.log()
    finally:
        for client in held:
            client.close()
        assert server.stop() == 0


def test_silent_tls_clients_past_the_descriptor_limit_are_refused_without_emfile(
    tmp_path: Path, tls_files: tuple[Path, Path, ssl.SSLContext]
) -> None:
    # On a TLS listener a socket waits for its first byte before it is a connection.
    # 300 silent clients against 256 descriptors: those past max_connections (fitted
    # under the limit) are closed at once, so accept() never fails for descriptors.
    chain, key, client_context = tls_files
    server = start_barehttp(
        [APP, "--certfile", str(chain), "--keyfile", str(key), "--header-timeout", "60"],
        tmp_path / "server.log",
        host_command="asgi",
        open_files_limit=(256, 256),
    )
    held: list[socket.socket] = []
    try:
        for _ in range(300):
            held.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))

        def closed_by_server(sock: socket.socket) -> bool:
            sock.settimeout(10)
            try:
                return sock.recv(1) == b""
            except ConnectionResetError:
                return True

        # Past the cap: closed without a word (a TLS listener cannot say 503 in clear).
        assert closed_by_server(held[-1])
        assert "accept() failed" not in server.log()
        for sock in held:
            sock.close()
        held.clear()
        url = f"https://127.0.0.1:{server.port}/"

        def is_served_again() -> bool:
            try:
                return httpx.get(url, verify=client_context, timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(is_served_again, 30.0, "the server to serve again")
        assert "accept() failed" not in server.log()
    finally:
        for sock in held:
            sock.close()
        assert server.stop() == 0
