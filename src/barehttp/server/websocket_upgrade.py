"""The hand-over of an HTTP connection to the WebSocket side, once the 101 is sent.

The worker running the handler sends the 101 (RFC 6455 §4.2.2), takes the bytes
the client sent after its head (already frames, RFC 9110 §7.8), and gives the
socket to the hub (websocket_hub.py); the HTTP connection then leaves it alone
(``ServerExchange.upgraded``, lifecycle state ``UPGRADED``). When the session
ends it closes the socket and uncounts the connection, as ``Connection.close``
would.
"""

from __future__ import annotations

from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_handshake import Acceptance
from barehttp.protocol.websocket_limits import WebSocketLimits
from barehttp.server.exchange import ServerExchange
from barehttp.server.websocket_owner import SessionTimes
from barehttp.server.websocket_session import WebSocketSession


def websocket_limits(exchange: ServerExchange) -> WebSocketLimits:
    """The limits the server gives WebSockets (for negotiating permessage-deflate)."""
    hub = exchange.context.websockets
    return hub.limits if hub is not None else WebSocketLimits()


def accept_websocket(exchange: ServerExchange, acceptance: Acceptance) -> WebSocketSession:
    """Send the 101 for ``acceptance`` and hand the connection to the WebSocket hub.

    Raises:
        RuntimeError: the server has no WebSocket hub, or the response was started.
        OSError: the 101 could not be sent (the client is gone).
    """
    context = exchange.context
    hub = context.websockets
    if hub is None:
        raise RuntimeError("this server does not serve WebSockets")
    if exchange.headers_sent:
        raise RuntimeError("response already started")
    early = exchange.reader.parser.take_buffered()
    transport = exchange.transport
    transport.sendall(acceptance.format_head())  # bounded by the write timeout
    exchange.mark_upgraded()
    transport.set_nonblocking()  # from here on only the hub waits on this socket
    peer_ip = exchange.peer_ip

    def release() -> None:
        try:
            transport.close()
        finally:
            context.connection_closed(peer_ip)

    connection = WebSocketConnection(limits=hub.limits, deflate=acceptance.deflate)
    times = SessionTimes(write_timeout_s=context.limits.write_timeout_s, clock=hub.clock)
    session = WebSocketSession(transport.sock, connection, hub.limits, times, hub, release)
    if early:  # before the hub reads anything newer
        session.receive_early(early)
    hub.add(session)
    if session.is_tls:  # frames decrypted already wait in the SSL object, unseen by epoll
        hub.read_soon(session)
    return session
