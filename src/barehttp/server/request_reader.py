"""RequestReader: the one owner of a connection's parser and parsed events.

The connection reads request heads through it; a handler reads its request body
through it (via the exchange), at the body's pace (see body_reader.py); after a
response, the rest of an unread body is drained through it.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable

from barehttp.protocol.errors import BadRequest, HTTPError, RequestTimeout
from barehttp.protocol.events import BodyData, EndOfMessage, Event, RequestHead
from barehttp.protocol.limits import Limits
from barehttp.protocol.parser import ParseState, RequestParser
from barehttp.server.body_reader import BodyPace
from barehttp.server.transport import EAGAIN_ERRORS, Transport

_PARSE_DONE = ParseState.DONE


class RequestReader:
    """Parses what the transport reads; hands out heads and body events in order."""

    __slots__ = ("_clock", "_limits", "_transport", "body_pace", "events", "parser")

    def __init__(self, transport: Transport, limits: Limits, clock: Callable[[], float]) -> None:
        self._transport = transport
        self._limits = limits
        self._clock = clock
        self.parser = RequestParser(limits)
        self.events: collections.deque[Event] = collections.deque()
        self.body_pace: BodyPace | None = None  # set when this request's body is first waited for

    @property
    def request_is_read(self) -> bool:
        """True once the whole current request (head and body) was parsed."""
        return self.parser.state is _PARSE_DONE

    @property
    def is_idle(self) -> bool:
        """True when nothing read waits to be parsed or handled: the next request
        needs bytes from the socket."""
        if self.parser.buffered_bytes:
            return False
        # The end of a body the handler did not read is no request. map() searches in
        # C: this runs after every response, where a generator cost more than the search.
        return RequestHead not in map(type, self.events)

    def start_next(self) -> None:
        """The response is out: the next bytes start a new request."""
        self.parser.start_next()
        self.body_pace = None

    def pace(self) -> BodyPace:
        pace = self.body_pace
        if pace is None:
            pace = self.body_pace = BodyPace(self._limits, self._clock())
        return pace

    def next_body_event(self) -> BodyData | EndOfMessage:
        """The next piece of the current request's body, waiting for it if needed."""
        events = self.events
        while True:
            while events:
                event = events.popleft()
                if isinstance(event, BodyData | EndOfMessage):
                    return event
            events.extend(self.receive_body_bytes())

    def receive_body_bytes(self, until: float = math.inf) -> list[Event]:
        """Block for more body bytes and parse them, at the body's pace (see
        body_reader.py) and until the clock's time ``until`` at the latest."""
        pace = self.pace()
        clock = self._clock
        if self.parser.state is ParseState.FAILED:
            # The read that brought this body's first bytes also broke a rule after
            # them: raise it now, as if it had come in the next read.
            self.parser.feed(b"")
        while True:
            try:
                data = self._transport.read()
            except EAGAIN_ERRORS:
                now = clock()
                if now > until:
                    raise RequestTimeout("request body not received in time") from None
                pace.check(now)
                continue
            if not data:
                raise BadRequest("client closed the connection before the body ended")
            pace.received(len(data), clock())
            events = self.parser.feed(data)
            if events:
                return events

    def drain_body(self) -> bool:
        """Read and drop the rest of an unread request body; False if it is too big
        or does not come within ``drain_timeout_s`` (the caller then closes): a
        worker never waits long on a body nobody wants."""
        until = self._clock() + self._limits.drain_timeout_s
        most = self._limits.body_prebuffer_bytes
        dropped = 0
        events = self.events
        while True:
            while events:
                event = events.popleft()
                if isinstance(event, EndOfMessage):
                    return True
                if isinstance(event, BodyData):
                    dropped += len(event.data)
                    if dropped > most:
                        return False
            if self._clock() > until:
                return False
            try:
                events.extend(self.receive_body_bytes(until))
            except (HTTPError, OSError):
                return False
