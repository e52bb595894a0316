"""Request bodies in transit: the pace they must keep, and bodies gathered before dispatch.

A handler runs on a worker thread and reads its body with blocking calls, so a
client that sends its body slowly would hold that worker for as long as it
likes. Like waitress and nginx, the server therefore reads small bodies *before*
dispatch, while the connection is parked in the reactor (exactly like a slow
request head): a worker takes the request only once its whole body is here, or
once ``body_prebuffer_bytes`` of it are (a large upload is then streamed to the
handler as it arrives, under the same pace). Memory is bounded twice: per
request by ``body_prebuffer_bytes``, and over all connections by
``max_gathered_body_bytes`` (past it, a body is handed over at once, as a large
one is).

The pace has two bounds, both answered with 408 and a close:

- silence: ``body_timeout_s`` without a body byte;
- average rate: after ``body_timeout_s`` of grace, ``min_body_rate_bytes_per_s``
  (a client trickling a byte now and then, R-U-Dead-Yet, cannot stretch a body
  over hours).

Times are passed in (``now``), so tests drive these rules without a clock.
"""

from __future__ import annotations

import math

from barehttp.protocol.errors import RequestTimeout
from barehttp.protocol.events import BodyData, EndOfMessage, Event, RequestHead
from barehttp.protocol.limits import Limits


class BodyPace:
    """Deadlines for one request body: silence and minimum average rate."""

    __slots__ = ("_rate", "_rate_deadline", "_silence_s", "last_bytes_at")

    def __init__(self, limits: Limits, now: float) -> None:
        self._silence_s = limits.body_timeout_s
        self._rate = limits.min_body_rate_bytes_per_s
        self._rate_deadline = now + self._silence_s if self._rate else math.inf
        self.last_bytes_at = now

    @property
    def deadline(self) -> float:
        """When the body is late if no byte comes before it."""
        return min(self.last_bytes_at + self._silence_s, self._rate_deadline)

    def received(self, count: int, now: float) -> None:
        """Count ``count`` body bytes; RequestTimeout if the average is below the floor."""
        self.last_bytes_at = now
        if self._rate:
            self._rate_deadline += count / self._rate
            if now > self._rate_deadline:
                raise RequestTimeout("request body arriving too slowly")

    def check(self, now: float) -> None:
        """RequestTimeout if ``now`` is past the deadline."""
        if now > self.deadline:
            if self.deadline < self.last_bytes_at + self._silence_s:  # the average's bound
                raise RequestTimeout("request body arriving too slowly")
            raise RequestTimeout("request body not received in time")


def needs_prebuffer(head: RequestHead, limits: Limits) -> bool:
    """True if ``head`` announces a body to gather before dispatch.

    Under ``Expect: 100-continue`` the client waits for a 100 (RFC 9110 §10.1.1)
    before sending: the server sends it itself for a body of known length up to
    ``body_prebuffer_bytes`` (cheap to take, as nginx and waitress do), and
    leaves a larger or chunked one to the handler, which may refuse it unsent.
    Otherwise the expectation would let any client skip the gathering.
    """
    if not head.expects_continue:
        return head.chunked or bool(head.content_length)
    return not head.chunked and 0 < (head.content_length or 0) <= limits.body_prebuffer_bytes


class BodyCollector:
    """The first bytes of a request body, gathered while the connection is parked.

    Body pieces are joined into one buffer as they come (a body trickled one
    byte per packet must not become thousands of events), and handed back as
    one ``BodyData`` when the request is dispatched.
    """

    __slots__ = ("_buffer", "_end", "_handed_over", "_limit", "head", "pace")

    def __init__(self, head: RequestHead, limits: Limits, pace: BodyPace) -> None:
        self.head = head
        self.pace = pace
        self._limit = limits.body_prebuffer_bytes
        self._buffer = bytearray()
        self._end: EndOfMessage | None = None
        self._handed_over = False

    @property
    def is_ready(self) -> bool:
        """True once the body is complete, or ``body_prebuffer_bytes`` of it are here,
        or it was handed over early."""
        return self._end is not None or len(self._buffer) >= self._limit or self._handed_over

    def hand_over(self) -> None:
        """Dispatch now with what came: the handler reads the rest as it arrives."""
        self._handed_over = True

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    def take(self, events: list[Event], now: float) -> None:
        """Keep the body events the parser produced (it stops at the message's end)."""
        count = 0
        for event in events:
            if isinstance(event, BodyData):
                self._buffer += event.data
                count += len(event.data)
            elif isinstance(event, EndOfMessage):
                self._end = event
        if count:
            self.pace.received(count, now)

    def release(self) -> list[Event]:
        """The gathered body as events for the handler, in order."""
        events: list[Event] = []
        if self._buffer:
            events.append(BodyData(bytes(self._buffer)))
            self._buffer = bytearray()
        if self._end is not None:
            events.append(self._end)
        return events
