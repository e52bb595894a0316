"""Gathering: a request body read before dispatch, while its connection is parked.

The rules (how much, how fast, for how long) are body_reader.py's; this module
ties a BodyCollector to one connection's parser and to the server-wide count of
gathered bytes (``max_gathered_body_bytes``).
"""

from __future__ import annotations

import dataclasses

from barehttp.protocol.errors import HTTPError
from barehttp.protocol.events import Event, RequestHead
from barehttp.protocol.parser import ParseState
from barehttp.protocol.writer import format_continue
from barehttp.server.body_reader import BodyCollector
from barehttp.server.context import ServerContext
from barehttp.server.request_reader import RequestReader
from barehttp.server.transport import Transport

_PARSE_FAILED = ParseState.FAILED


class Gathering:
    """One request body on its way; the connection dispatches once ``is_ready``."""

    __slots__ = ("_context", "_reader", "collector")

    def __init__(
        self, head: RequestHead, transport: Transport, reader: RequestReader, context: ServerContext
    ) -> None:
        if head.expects_continue:  # small enough to take: the server meets the expectation
            transport.sendall(format_continue(head.http_version))
            head = dataclasses.replace(head, expects_continue=False)
        self._context = context
        self._reader = reader
        self.collector = BodyCollector(head, context.limits, reader.pace())
        events = reader.events
        body_events = list(events)  # what came with the head: only this body's events
        events.clear()
        self.collect(body_events)

    @property
    def is_ready(self) -> bool:
        return self.collector.is_ready

    @property
    def deadline(self) -> float:
        return self.collector.pace.deadline

    def collect(self, new: list[Event]) -> None:
        """Keep the body events just parsed; RequestTimeout if the body is too slow."""
        collector = self.collector
        context = self._context
        now = context.clock()
        before = collector.buffered_bytes
        collector.take(new, now)
        added = collector.buffered_bytes - before
        if added and not context.gather(added):
            collector.hand_over()  # all gathered bodies hold too much: stream this one
        elif self._reader.parser.state is _PARSE_FAILED:
            # The bytes after these broke a rule: nothing more will come for this body.
            # The handler runs and meets the error when it reads on, however the bytes
            # were split.
            collector.hand_over()
        if not collector.is_ready:
            collector.pace.check(now)

    def read_available(self, transport: Transport) -> bool:
        """Read and keep what the client sent, without waiting; True once ready.
        OSError if the client left mid-body."""
        data = transport.read_now()
        if data == b"":
            raise ConnectionAbortedError("the client left mid-body")
        if data is not None:
            try:
                self.collect(self._reader.parser.feed(data))
            except HTTPError:
                # A broken body: the handler meets the error when it reads the body, as
                # when the error comes after the body's first bytes (see collect()).
                self.collector.hand_over()
        return self.collector.is_ready

    def release(self) -> RequestHead:
        """Hand the gathered body to the reader's queue; the head to dispatch."""
        collector = self.collector
        self._context.gather(-collector.buffered_bytes)
        self._reader.events.extend(collector.release())
        return collector.head

    def discard(self) -> None:
        """The connection closes: stop counting what was gathered."""
        self._context.gather(-self.collector.buffered_bytes)
