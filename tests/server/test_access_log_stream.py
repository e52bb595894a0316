"""Access lines written straight to a descriptor: whole, in order, never an error."""

from __future__ import annotations

import fcntl
import logging
import os
import select
import threading
import time
from collections.abc import Iterator

import pytest

from barehttp.server.access_log import log_refusal
from barehttp.server.access_log_stream import AccessLogStream, direct_stream
from tests.server.conftest import StartServer
from tests.server.handlers import TestHandler

WAIT_S = 10.0
PIPE_SIZE = 4_096  # the least a pipe holds: long lines need several writes


class Pipe:
    """A pipe holding one page; each end is closed once (a number closed twice
    could by then be another test's socket)."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()
        fcntl.fcntl(self.write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        self._open = {self.read_end, self.write_end}

    def close(self, fd: int) -> None:
        if fd in self._open:
            self._open.remove(fd)
            os.close(fd)


@pytest.fixture
def small_pipe() -> Iterator[Pipe]:
    pipe = Pipe()
    yield pipe
    pipe.close(pipe.read_end)
    pipe.close(pipe.write_end)


def read_all(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 1_000):  # small reads: the writers fill the pipe again
        into += chunk


def test_lines_from_many_threads_stay_whole(small_pipe: Pipe) -> None:
    """Lines longer than the pipe holds, from 8 threads at once: each arrives whole."""
    read_end, write_end = small_pipe.read_end, small_pipe.write_end
    stream = AccessLogStream(write_end)
    received = bytearray()
    reader = threading.Thread(target=read_all, args=(read_end, received))
    reader.start()
    lines = {
        f"{writer}-{number}-" + chr(97 + writer) * 10_000
        for writer in range(8)
        for number in range(5)
    }

    def write(writer: int) -> None:
        for line in sorted(lines):
            if line.startswith(f"{writer}-"):
                stream.write_line(line)

    writers = [threading.Thread(target=write, args=(index,)) for index in range(8)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(WAIT_S)
    small_pipe.close(write_end)
    reader.join(WAIT_S)
    assert not reader.is_alive()
    got = received.decode().split("\n")
    assert got[-1] == ""  # every line ends with a newline
    assert sorted(got[:-1]) == sorted(lines)
    assert stream.lines_dropped == 0


def test_text_stderr_cannot_show_is_escaped(small_pipe: Pipe) -> None:
    read_end, write_end = small_pipe.read_end, small_pipe.write_end
    AccessLogStream(write_end).write_line("GET /\udcff \u00e9")
    assert os.read(read_end, 100) == b"GET /\\udcff \xc3\xa9\n"


def test_a_closed_reader_drops_lines_and_says_so_once(
    small_pipe: Pipe, caplog: pytest.LogCaptureFixture
) -> None:
    read_end, write_end = small_pipe.read_end, small_pipe.write_end
    small_pipe.close(read_end)
    stream = AccessLogStream(write_end)
    with caplog.at_level(logging.WARNING, logger="barehttp.server"):
        for _ in range(3):
            stream.write_line("GET / 200")  # EPIPE: must not raise
    assert stream.lines_dropped == 3
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(warnings) == 1


@pytest.fixture
def access_logger_alone() -> Iterator[logging.Logger]:
    """The access logger as the command line sets it up; restored afterwards."""
    access = logging.getLogger("barehttp.access")
    saved = (access.handlers[:], access.propagate, access.level, access.filters[:])
    access.handlers.clear()
    access.filters.clear()
    access.propagate = False
    access.setLevel(logging.INFO)
    yield access
    access.handlers[:], access.propagate, _, access.filters[:] = saved
    access.setLevel(saved[2])


def test_the_server_writes_lines_to_the_stream_and_answers_when_it_fails(
    start_server: StartServer, small_pipe: Pipe, access_logger_alone: logging.Logger
) -> None:
    read_end, write_end = small_pipe.read_end, small_pipe.write_end
    stream = AccessLogStream(write_end)
    # Alone: pytest's log capture attaches itself to non-propagating loggers too.
    access_logger_alone.handlers[:] = [stream]
    assert direct_stream(access_logger_alone) is stream
    server = start_server(TestHandler())
    response, _ = server.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", timeout=WAIT_S)
    assert response.status == 200
    # The line is written after the response went out: wait for it.
    assert select.select([read_end], [], [], WAIT_S)[0]
    line = os.read(read_end, 1_000).decode()
    assert '"GET / HTTP/1.1" 200' in line and line.endswith("\n")
    small_pipe.close(read_end)  # nobody reads the log any more: requests are still answered
    response, _ = server.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", timeout=WAIT_S)
    assert response.status == 200
    deadline = time.monotonic() + WAIT_S
    while stream.lines_dropped < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert stream.lines_dropped == 1


def test_lines_become_records_when_the_logger_is_set_up_otherwise(
    small_pipe: Pipe, access_logger_alone: logging.Logger
) -> None:
    """Another handler beside the stream (a capture, an application's set-up): both
    get a record, and the stream writes the same line through ``emit``."""
    stream = AccessLogStream(small_pipe.write_end)
    records: list[logging.LogRecord] = []
    other = logging.Handler()
    other.emit = records.append  # type: ignore[method-assign]
    access_logger_alone.handlers[:] = [stream, other]
    assert direct_stream(access_logger_alone) is None
    log_refusal("192.0.2.1", 400, 11)
    assert len(records) == 1
    message = records[0].getMessage()
    assert message.startswith("192.0.2.1 - - [") and message.endswith('"-" 400 11')
    assert os.read(small_pipe.read_end, 1_000).decode() == message + "\n"
