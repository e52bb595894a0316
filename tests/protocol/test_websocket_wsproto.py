"""Differential tests against wsproto: its client talks to our server, over the same bytes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto import events as ws
from wsproto.connection import Connection
from wsproto.extensions import PerMessageDeflate as WsprotoDeflate

from barehttp.protocol.events import RequestHead
from barehttp.protocol.parser import RequestParser
from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from barehttp.protocol.websocket_frames import Role
from barehttp.protocol.websocket_handshake import accept_upgrade, parse_upgrade_request
from tests.protocol.test_websocket_properties import raw_frames

PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def handshake(
    *,
    deflate: bool,
    subprotocols: list[str] = (),  # type: ignore[assignment]
) -> tuple[WSConnection, WebSocketConnection, ws.AcceptConnection]:
    """wsproto's client asks, our server answers; wsproto must accept our 101."""
    client = WSConnection(ConnectionType.CLIENT)
    extensions = [WsprotoDeflate()] if deflate else []
    request = client.send(
        ws.Request(
            host="example.com",
            target="/chat",
            subprotocols=list(subprotocols),
            extensions=extensions,
        )
    )
    (head, *_) = RequestParser().feed(request)
    assert isinstance(head, RequestHead)
    upgrade = parse_upgrade_request(head)
    chosen = upgrade.subprotocols[-1] if upgrade.subprotocols else None
    acceptance = accept_upgrade(upgrade, subprotocol=chosen)
    client.receive_data(acceptance.format_head())
    (accepted,) = client.events()
    assert isinstance(accepted, ws.AcceptConnection)
    server = WebSocketConnection(Role.SERVER, deflate=acceptance.deflate)
    return client, server, accepted


def test_wsproto_accepts_our_handshake() -> None:
    _, server, accepted = handshake(deflate=True, subprotocols=["chat", "v2"])
    assert accepted.subprotocol == "v2"
    assert [extension.name for extension in accepted.extensions] == ["permessage-deflate"]
    assert server._deflate is not None


messages = st.lists(
    st.one_of(
        st.tuples(st.just("text"), st.text(max_size=200), st.integers(1, 4)),
        st.tuples(st.just("binary"), st.binary(max_size=200), st.integers(1, 4)),
        st.tuples(st.just("ping"), st.binary(max_size=125), st.just(1)),
    ),
    max_size=6,
)


@PROPERTY_SETTINGS
@given(sent=messages, deflate=st.booleans(), close_code=st.sampled_from([1000, 1001, 4000]))
def test_our_server_reads_what_wsproto_sends(
    sent: list[tuple[str, str | bytes, int]], deflate: bool, close_code: int
) -> None:
    client, server, _ = handshake(deflate=deflate)
    data = b""
    expected: list[Event] = []
    for kind, payload, parts in sent:
        if kind == "ping":
            assert isinstance(payload, bytes)
            data += client.send(ws.Ping(payload))
            expected.append(Ping(payload))
            continue
        # wsproto sends a message in ``parts`` frames (message_finished on the last).
        step = max(1, len(payload) // parts)
        pieces = [payload[start : start + step] for start in range(0, len(payload), step)] or [
            payload
        ]
        for index, piece in enumerate(pieces):
            finished = index == len(pieces) - 1
            if kind == "text":
                data += client.send(ws.TextMessage(piece, message_finished=finished))  # type: ignore[arg-type]
            else:
                data += client.send(ws.BytesMessage(piece, message_finished=finished))  # type: ignore[arg-type]
        expected.append(TextMessage(payload) if kind == "text" else BinaryMessage(payload))  # type: ignore[arg-type]
    data += client.send(ws.CloseConnection(close_code, "done"))
    assert server.receive_data(data) == [*expected, CloseReceived(close_code, "done")]
    # wsproto reads our replies: a Pong per Ping, then our Close echoing the code.
    client.receive_data(server.data_to_send())
    replies = list(client.events())
    assert [event.payload for event in replies if isinstance(event, ws.Pong)] == [
        payload for kind, payload, _ in sent if kind == "ping"
    ]
    assert isinstance(replies[-1], ws.CloseConnection) and replies[-1].code == close_code


@PROPERTY_SETTINGS
@given(sent=messages, deflate=st.booleans(), fragment_bytes=st.sampled_from([None, 1, 50]))
def test_wsproto_reads_what_our_server_sends(
    sent: list[tuple[str, str | bytes, int]], deflate: bool, fragment_bytes: int | None
) -> None:
    client, server, _ = handshake(deflate=deflate)
    for kind, payload, _ in sent:
        if kind == "text":
            assert isinstance(payload, str)
            server.send_text(payload, fragment_bytes=fragment_bytes)
        elif kind == "binary":
            assert isinstance(payload, bytes)
            server.send_binary(payload, fragment_bytes=fragment_bytes)
        else:
            assert isinstance(payload, bytes)
            server.send_ping(payload)
    server.send_close(1000, "bye")
    client.receive_data(server.data_to_send())
    received: list[tuple[str, str | bytes]] = []
    buffer: list[str | bytes] = []
    for event in client.events():
        if isinstance(event, ws.Message):
            buffer.append(event.data)
            if event.message_finished:
                kind = "text" if isinstance(event, ws.TextMessage) else "binary"
                joined = "".join(buffer) if kind == "text" else b"".join(buffer)  # type: ignore[arg-type]
                received.append((kind, joined))
                buffer = []
        elif isinstance(event, ws.Ping):
            received.append(("ping", event.payload))
        else:
            assert isinstance(event, ws.CloseConnection)
            received.append(("close", f"{event.code} {event.reason}"))
    assert received == [(kind, payload) for kind, payload, _ in sent] + [("close", "1000 bye")]


def wsproto_outcome(data: bytes) -> list[tuple[str, object]]:
    """What a wsproto server makes of ``data``: whole messages, pings, pongs, and the
    first Close (the peer's or its own failure, by code)."""
    connection = Connection(ConnectionType.SERVER)
    connection.receive_data(data)
    outcome: list[tuple[str, object]] = []
    parts: list[str | bytes] = []
    for event in connection.events():
        if isinstance(event, ws.Message):
            parts.append(event.data)
            if event.message_finished:
                if isinstance(event, ws.TextMessage):
                    outcome.append(("text", "".join(parts)))  # type: ignore[arg-type]
                else:
                    outcome.append(("binary", b"".join(parts)))  # type: ignore[arg-type]
                parts = []
        elif isinstance(event, ws.Ping):
            outcome.append(("ping", event.payload))
        elif isinstance(event, ws.Pong):
            outcome.append(("pong", event.payload))
        else:
            assert isinstance(event, ws.CloseConnection)
            outcome.append(("close", int(event.code)))
            break
    return outcome


def barehttp_outcome(data: bytes) -> list[tuple[str, object]]:
    outcome: list[tuple[str, object]] = []
    for event in WebSocketConnection(Role.SERVER).receive_data(data):
        if isinstance(event, TextMessage):
            outcome.append(("text", event.data))
        elif isinstance(event, BinaryMessage):
            outcome.append(("binary", event.data))
        elif isinstance(event, Ping):
            outcome.append(("ping", event.payload))
        elif isinstance(event, Pong):
            outcome.append(("pong", event.payload))
        else:
            assert isinstance(event, CloseReceived | ConnectionFailed)
            outcome.append(("close", event.code))
    return outcome


@PROPERTY_SETTINGS
@given(frames=st.lists(raw_frames(minimal_lengths=True), max_size=8))
def test_same_outcome_as_wsproto_for_any_frames(frames: list[bytes]) -> None:
    # Lengths are minimally encoded here: wsproto refuses a longer encoding, which
    # RFC 6455 §5.2 asks of senders only; we accept it (test_accepts_non_minimal_...).
    data = b"".join(frames)
    assert barehttp_outcome(data) == wsproto_outcome(data)
