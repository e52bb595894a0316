"""A connection's life cycle: its named states and every transition between them.

::

    TLS_HELLO ──> HANDSHAKE ──┐          (TLS only; a plain-HTTP hello is answered, CLOSED)
                              v
    (plain) ─────────────> READING_HEAD <──────────────────────────┐
                           │    │   ^                              │ keep-alive
                           │    v   │ head + body here             │
                           │  GATHERING_BODY                       │
                           v    │                                  │
                          IN_HANDLER ──> response out ─────────────┤
                                 │                                 │
                                 └──> WRITING (outbox; reactor) ───┘
                                 └──> WRITING_LAST (outbox, then close)
                                 └──> UPGRADED (101 sent: the WebSocket hub owns the socket)
    any state ──> CLOSED

Where a connection *is* (a worker thread, or parked in the reactor) is not a
state: READING_HEAD, GATHERING_BODY, HANDSHAKE and TLS_HELLO park while their
client is quiet and resume in the same state; WRITING and WRITING_LAST are
always parked (the reactor sends the outbox); IN_HANDLER never is.
"""

from __future__ import annotations

import enum


class ConnectionState(enum.Enum):
    TLS_HELLO = enum.auto()  # TLS port, no byte yet: is it plain HTTP? (plain_http.py)
    HANDSHAKE = enum.auto()  # TLS handshake under way (bounded like a request head)
    READING_HEAD = enum.auto()  # waiting for, or reading, a request head
    GATHERING_BODY = enum.auto()  # a head is here; its body is gathered before dispatch
    IN_HANDLER = enum.auto()  # a worker runs the handler and writes the response
    WRITING = enum.auto()  # the reactor sends the response's end; then the next request
    WRITING_LAST = enum.auto()  # the reactor sends the response's end; then close
    UPGRADED = enum.auto()  # after a 101: the socket is the WebSocket side's (websocket_hub.py)
    CLOSED = enum.auto()


_S = ConnectionState
TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    _S.TLS_HELLO: frozenset({_S.HANDSHAKE, _S.CLOSED}),
    _S.HANDSHAKE: frozenset({_S.READING_HEAD, _S.CLOSED}),
    _S.READING_HEAD: frozenset({_S.GATHERING_BODY, _S.IN_HANDLER, _S.CLOSED}),
    _S.GATHERING_BODY: frozenset({_S.IN_HANDLER, _S.CLOSED}),
    _S.IN_HANDLER: frozenset(
        {_S.READING_HEAD, _S.WRITING, _S.WRITING_LAST, _S.UPGRADED, _S.CLOSED}
    ),
    _S.WRITING: frozenset({_S.READING_HEAD, _S.CLOSED}),
    _S.WRITING_LAST: frozenset({_S.CLOSED}),
    _S.UPGRADED: frozenset(),  # the WebSocket session closes the socket, not the connection
    _S.CLOSED: frozenset({_S.CLOSED}),
}
# TRANSITIONS for the per-request path: keyed by id() and searched in tuples, since an
# Enum member hashes in Python code (a dict or set lookup costs a Python call).
NEXT_STATES: dict[int, tuple[ConnectionState, ...]] = {
    id(state): tuple(following) for state, following in TRANSITIONS.items()
}


def transition_error(old: ConnectionState, new: ConnectionState) -> RuntimeError:
    return RuntimeError(f"connection cannot go from {old.name} to {new.name}")
