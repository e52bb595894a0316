"""The ``barehttp`` command: help, options that take effect, and the access log."""

from __future__ import annotations

import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from barehttp.cli import DEFAULT_LIMITS, build_parser, limits_from_args
from tests.integration.conftest import EXIT_TIMEOUT_S, ServerProcess, SpawnServer
from tests.server.rawhttp import ResponseReader

SCRIPT = pathlib.Path(sys.executable).parent / "barehttp"
# 127.0.0.1 - - [26/Nov/2026:11:21:37 +0000] "GET /x HTTP/1.1" 200 13
ACCESS_LINE = re.compile(
    r"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<size>\d+|-)$',
    re.MULTILINE,
)


def run_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*arguments], capture_output=True, text=True, timeout=EXIT_TIMEOUT_S, check=False
    )


def test_help_exits_zero() -> None:
    result = run_command(str(SCRIPT), "--help")
    assert result.returncode == 0, result.stderr
    assert "hello" in result.stdout


def test_hello_help_lists_the_server_options() -> None:
    result = run_command(str(SCRIPT), "hello", "--help")
    assert result.returncode == 0, result.stderr
    for option in (
        "--host",
        "--port",
        "--threads",
        "--no-access-log",
        "--idle-timeout",
        "--header-timeout",
        "--shutdown-timeout",
        "--write-timeout",
        "--max-body",
        "--max-connections",
        "--queue",
    ):
        assert option in result.stdout


def test_module_entry_point_help() -> None:
    result = run_command(sys.executable, "-m", "barehttp.cli", "--help")
    assert result.returncode == 0, result.stderr


def test_unknown_command_fails() -> None:
    result = run_command(str(SCRIPT), "no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr


# Option values that would turn off a bound or break the server are refused by
# argparse (exit 2) with a message naming the option.
INVALID_OPTION_VALUES = [
    pytest.param(["--idle-timeout", "-1"], "must be a finite number of seconds", id="negative"),
    pytest.param(["--header-timeout", "0"], "more than 0", id="zero-timeout"),
    pytest.param(["--body-timeout", "inf"], "finite", id="infinite-timeout"),
    pytest.param(["--body-timeout", "nan"], "finite", id="nan-timeout"),
    pytest.param(["--write-timeout", "0"], "more than 0", id="zero-write-timeout"),
    pytest.param(["--shutdown-timeout", "-0.5"], "0 or more", id="negative-shutdown"),
    pytest.param(["--idle-timeout", "soon"], "not a number of seconds", id="word-timeout"),
    pytest.param(["--threads", "0"], "1 or more", id="no-threads"),
    pytest.param(["--port", "70000"], "from 0 to 65535", id="port-too-high"),
    pytest.param(["--port", "-1"], "from 0 to 65535", id="negative-port"),
    pytest.param(["--max-connections", "x"], "not a whole number", id="word-count"),
    pytest.param(["--max-connections", "0"], "1 or more", id="no-connections"),
    pytest.param(["--queue", "0"], "1 or more", id="no-queue"),
    pytest.param(["--max-body", "-1"], "not a size", id="negative-body"),
    pytest.param(["--min-body-rate", "1.5"], "not a whole number", id="fractional-rate"),
    pytest.param(["--workers", "x"], "0/auto or a positive number", id="word-workers"),
    pytest.param(["--max-requests", "-3"], "0 or more", id="negative-max-requests"),
]


@pytest.mark.parametrize(("option", "message"), INVALID_OPTION_VALUES)
def test_invalid_option_values_exit_2_with_a_message(
    option: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["wsgi", "app:app", *option])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert f"argument {option[0]}" in error
    assert message in error


def test_timeouts_reach_the_limits() -> None:
    options = ["--idle-timeout", "2", "--header-timeout", "3", "--body-timeout", "4"]
    options += ["--write-timeout", "5", "--shutdown-timeout", "6"]
    args = build_parser().parse_args(["hello", *options])
    limits = limits_from_args(args)
    assert (
        limits.idle_timeout_s,
        limits.header_timeout_s,
        limits.body_timeout_s,
        limits.write_timeout_s,
        limits.shutdown_timeout_s,
    ) == (2.0, 3.0, 4.0, 5.0, 6.0)


def test_boundary_option_values_are_accepted() -> None:
    args = build_parser().parse_args(
        ["wsgi", "app:app", "--port", "0", "--shutdown-timeout", "0", "--max-body", "0"]
    )
    assert (args.port, args.shutdown_timeout, args.max_body) == (0, 0.0, 0)
    args = build_parser().parse_args(["hello", "--idle-timeout", "0.25", "--threads", "1"])
    assert (args.idle_timeout, args.threads) == (0.25, 1)


def stop(server: ServerProcess) -> int:
    server.signal(signal.SIGTERM)
    return server.wait()


def test_access_log_has_one_common_log_format_line_per_request(
    spawn_server: SpawnServer,
) -> None:
    server = spawn_server("-m", "barehttp.cli", "hello", "--port", "{port}")
    with requests.Session() as session:
        assert session.get(server.url + "/first?x=1", timeout=5).status_code == 200
        assert session.head(server.url + "/second", timeout=5).status_code == 200
    assert requests.post(server.url + "/third", data=b"abc", timeout=5).status_code == 200
    assert stop(server) == 0
    lines = [match.groupdict() for match in ACCESS_LINE.finditer(server.stderr)]
    assert lines == [
        {"request": "GET /first?x=1 HTTP/1.1", "status": "200", "size": "13"},
        {"request": "HEAD /second HTTP/1.1", "status": "200", "size": "-"},
        {"request": "POST /third HTTP/1.1", "status": "200", "size": "13"},
    ]


def test_no_access_log_writes_no_request_lines(spawn_server: SpawnServer) -> None:
    server = spawn_server("-m", "barehttp.cli", "hello", "--port", "{port}", "--no-access-log")
    for _ in range(3):
        assert requests.get(server.url + "/", timeout=5).status_code == 200
    assert stop(server) == 0
    stderr = server.stderr
    assert ACCESS_LINE.search(stderr) is None
    assert '"GET / HTTP/1.1"' not in stderr
    assert "listening on http://127.0.0.1:" in stderr  # other logging still works


def connect_and_get_served(port: int) -> tuple[socket.socket, float]:
    """A keep-alive connection that got a 200, retrying while the server is full,
    and the time its request was sent (its idle time starts after that)."""
    deadline = time.monotonic() + 20.0
    while True:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sent_at = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        status = ResponseReader(sock).read_response().status
        if status == 200:
            return sock, sent_at
        sock.close()
        assert status == 503 and time.monotonic() < deadline, status
        time.sleep(0.05)


def test_limit_options_take_effect(spawn_server: SpawnServer) -> None:
    server = spawn_server(
        "-m",
        "barehttp.cli",
        "hello",
        "--port",
        "{port}",
        "--max-body",
        "100",
        "--idle-timeout",
        "0.5",
        "--max-connections",
        "2",
    )
    assert requests.post(server.url + "/", data=b"x" * 101, timeout=5).status_code == 413
    # The connections above count until the server has closed them (after a
    # lingering close): the two held ones are taken once there is room.
    first, first_sent_at = connect_and_get_served(server.port)
    second, _ = connect_and_get_served(server.port)
    try:
        assert requests.get(server.url + "/", timeout=10).status_code == 503
        assert ResponseReader(first).is_closed(timeout=20.0)
        # --idle-timeout 0.5: the default would keep it open for at least 5 s.
        assert time.monotonic() - first_sent_at < DEFAULT_LIMITS.idle_timeout_s
    finally:
        first.close()
        second.close()
    assert stop(server) == 0


def test_taken_port_fails_cleanly(spawn_server: SpawnServer) -> None:
    server = spawn_server("-m", "barehttp.cli", "hello", "--port", "{port}")
    clash = run_command(sys.executable, "-m", "barehttp.cli", "hello", "--port", str(server.port))
    assert clash.returncode != 0
    assert "address already in use" in clash.stderr
    assert stop(server) == 0
