"""Shared helpers for the protocol tests: feed bytes in pieces, collect messages."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.events import BodyData, EndOfMessage, Event, RequestHead
from barehttp.protocol.limits import Limits
from barehttp.protocol.parser import ParseState, RequestParser

HEAD_FIELDS = (
    "method",
    "target",
    "path",
    "query",
    "http_version",
    "keep_alive",
    "content_length",
    "chunked",
    "expects_continue",
)


@dataclass
class Message:
    """One complete request as the parser reported it."""

    head: RequestHead
    body: bytes
    trailers: list[tuple[str, str]]

    def summary(self) -> tuple[object, ...]:
        """A plain value to compare messages parsed from differently split bytes."""
        head = tuple(getattr(self.head, name) for name in HEAD_FIELDS)
        return (head, self.head.headers.items(), self.body, self.trailers)


def split_at(data: bytes, splits: Sequence[int]) -> list[bytes]:
    """``data`` cut at the given offsets (sorted, deduplicated, clipped)."""
    cuts = sorted({cut for cut in splits if 0 < cut < len(data)})
    bounds = [0, *cuts, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]


def bytewise(data: bytes) -> list[int]:
    """Split points that feed ``data`` one byte at a time."""
    return list(range(1, len(data)))


class Collector:
    """Drives a parser like the server does: start_next() after every message."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.parser = RequestParser(limits)
        self.messages: list[Message] = []
        # Every event as a plain value, adjacent body pieces joined (their sizes
        # follow the reads): the same bytes must give the same log however split.
        self.log: list[tuple[object, ...]] = []
        self._head: RequestHead | None = None
        self._body = bytearray()

    def feed(self, piece: bytes) -> None:
        events = self.parser.feed(piece)
        while True:
            self._accept(events)
            if self.parser.state is ParseState.FAILED:
                self.parser.feed(b"")  # raises the error met after these events
            if self.parser.state is not ParseState.DONE:
                return
            self.parser.start_next()
            events = self.parser.feed(b"")

    def _accept(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, RequestHead):
                assert self._head is None, "head before the previous message ended"
                self._head = event
                head = tuple(getattr(event, name) for name in HEAD_FIELDS)
                self.log.append(("head", head, event.headers.items()))
            elif isinstance(event, BodyData):
                assert self._head is not None, "body before head"
                self._body += event.data
                if self.log[-1][0] == "body":
                    self.log[-1] = ("body", self.log[-1][1] + event.data)  # type: ignore[operator]
                elif event.data:
                    self.log.append(("body", event.data))
            else:
                self.log.append(("end", event.trailers.items()))
                assert isinstance(event, EndOfMessage)
                assert self._head is not None, "end of message before head"
                self.messages.append(Message(self._head, bytes(self._body), event.trailers.items()))
                self._head = None
                self._body.clear()


def parse_all(
    data: bytes, splits: Sequence[int] = (), limits: Limits | None = None
) -> list[Message]:
    """Every complete message in ``data`` fed in pieces cut at ``splits``."""
    collector = Collector(limits)
    for piece in split_at(data, splits):
        collector.feed(piece)
    return collector.messages


def parse_one(data: bytes, splits: Sequence[int] = (), limits: Limits | None = None) -> Message:
    """The single complete message in ``data``."""
    messages = parse_all(data, splits, limits)
    assert len(messages) == 1, messages
    return messages[0]


def parse_error(data: bytes, splits: Sequence[int] = (), limits: Limits | None = None) -> HTTPError:
    """The HTTPError that parsing ``data`` raises (the test fails if none is)."""
    with pytest.raises(HTTPError) as caught:
        parse_all(data, splits, limits)
    return caught.value


def outcome(
    data: bytes, splits: Sequence[int] = (), limits: Limits | None = None
) -> tuple[list[tuple[object, ...]], int | None]:
    """Messages completed before any error, and the error status (None if no error)."""
    collector = Collector(limits)
    try:
        for piece in split_at(data, splits):
            collector.feed(piece)
    except HTTPError as error:
        return [message.summary() for message in collector.messages], error.status
    return [message.summary() for message in collector.messages], None


def request(
    head: str = "GET / HTTP/1.1", *fields: str, body: bytes = b"", host: bool = True
) -> bytes:
    """A request: the request line, ``Host: example.com`` unless ``host`` is False,
    the given field lines, the empty line and ``body``."""
    lines = [head, *(["Host: example.com"] if host else []), *fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def event_log(
    data: bytes, splits: Sequence[int] = (), limits: Limits | None = None
) -> tuple[list[tuple[object, ...]], int | None]:
    """Every event before any error (see ``Collector.log``), and the error status."""
    collector = Collector(limits)
    try:
        for piece in split_at(data, splits):
            collector.feed(piece)
    except HTTPError as error:
        return collector.log, error.status
    return collector.log, None
