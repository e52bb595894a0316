"""Access log lines: common (NCSA) and combined with the request's duration."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

from barehttp.protocol.events import RequestHead
from barehttp.protocol.headers import Headers
from barehttp.server.access_log import ClfStamp, log_access

STAMP = r"\[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]"


def head(headers: list[tuple[str, str]]) -> RequestHead:
    return RequestHead(
        method="GET",
        target='/a?q="x"',
        path="/a",
        query='q="x"',
        http_version="HTTP/1.1",
        headers=Headers(headers),
        keep_alive=True,
        content_length=None,
        chunked=False,
        expects_continue=False,
    )


def own_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records this thread logged: a server of an earlier test may still be ending
    in another thread, and caplog takes every thread's."""
    return [record for record in caplog.records if record.thread == threading.get_ident()]


def logged_line(caplog: pytest.LogCaptureFixture, **options: object) -> str:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="barehttp.access"):
        log_access(
            head([("referer", "https://example.com/"), ("user-agent", 'evil"\nagent')]),
            "203.0.113.9",
            200,
            1234,
            **options,
        )
    (record,) = own_records(caplog)
    return record.getMessage()


def test_common_is_the_ncsa_line(caplog: pytest.LogCaptureFixture) -> None:
    line = logged_line(caplog)
    assert re.fullmatch(rf'203\.0\.113\.9 - - {STAMP} "GET /a\?q=%22x%22 HTTP/1\.1" 200 1234', line)


def test_combined_adds_referer_agent_and_duration(caplog: pytest.LogCaptureFixture) -> None:
    line = logged_line(caplog, log_format="combined", duration_s=0.25)
    assert line.endswith(' 200 1234 "https://example.com/" "evil\\x22\\x0Aagent" 0.250')
    assert "\n" not in line  # a client cannot start a forged line


def test_combined_without_the_fields_uses_dashes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="barehttp.access"):
        log_access(head([]), "::1", 404, 0, log_format="combined", duration_s=0.0)
    assert own_records(caplog)[0].getMessage().endswith('" 404 - "-" "-" 0.000')


class UnreadableHead:
    """A head whose every field read fails: shows whether a line was formatted."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"read {name} of a request nobody logs")


def test_nothing_is_formatted_when_the_access_logger_filters_info_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="barehttp.access"):
        log_access(UnreadableHead(), "203.0.113.9", 200, 5)  # type: ignore[arg-type]
    assert own_records(caplog) == []


def test_the_time_stamp_is_formatted_once_a_second() -> None:
    # Cached for its second only: a later second gets its own stamp.
    now = [1_000_000_000.2]
    stamp = ClfStamp(clock=lambda: now[0])
    first = stamp.now()
    assert first == time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(1_000_000_000))
    now[0] = 1_000_000_000.9
    assert stamp.now() is first
    now[0] = 1_000_000_061.0
    assert stamp.now() == time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(1_000_000_061))
