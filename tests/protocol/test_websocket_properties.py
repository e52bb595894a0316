"""WebSocket properties: any split of the bytes gives the same events; what one end sends,
the other reads back (both roles, with and without permessage-deflate)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_deflate import DeflateParams
from barehttp.protocol.websocket_events import (
    BinaryMessage,
    CloseReceived,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from barehttp.protocol.websocket_frames import Role
from barehttp.protocol.websocket_limits import WebSocketLimits
from tests.protocol.websocket_helpers import MASK, close_payload, raw_frame, run

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SMALL_LIMITS = WebSocketLimits(
    max_frame_bytes=150,
    max_message_bytes=200,
    max_decompressed_message_bytes=300,
    max_queued_bytes=300,
)
deflate_params = st.one_of(
    st.none(),
    st.builds(
        DeflateParams,
        st.booleans(),
        st.booleans(),
        st.integers(9, 15),
        st.integers(9, 15),
    ),
)

payloads = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20).map(str.encode),
    st.sampled_from([b"\xff", b"\xce", b"\xed\xa0\x80", b"\xf0\x9d\x84"]),
)


@st.composite
def raw_frames(draw: st.DrawFn, *, minimal_lengths: bool = False) -> bytes:
    """One frame, usually valid, sometimes breaking a rule (opcode, RSV, mask, close body),
    its length in the fewest bytes or (unless ``minimal_lengths``) in more."""
    opcode = draw(st.sampled_from([0x0, 0x1, 0x2, 0x8, 0x9, 0xA, 0x1, 0x2, 0x0, 0x3, 0xB]))
    payload = draw(payloads)
    if opcode == 0x8 and draw(st.booleans()):
        # 1014 (Bad Gateway, registered after RFC 6455) is left out: we accept it,
        # wsproto, which the differential test compares with, does not know it.
        codes = [1000, 1001, 1004, 1005, 1011, 1012, 1015, 1016, 2999, 3000, 4999, 999, 5000]
        code = draw(st.sampled_from(codes))
        payload = close_payload(code, draw(payloads)[:10])
    if opcode >= 0x8:
        payload = payload[:125]
    return raw_frame(
        opcode,
        payload,
        fin=draw(st.booleans()) or opcode >= 0x8,
        rsv=draw(st.sampled_from([0, 0, 0, 4, 2])),
        mask=draw(st.sampled_from([MASK, MASK, b"\0\0\0\0", None])),
        length_bytes=None if minimal_lengths else draw(st.sampled_from([None, None, 2, 8])),
    )


@PROPERTY_SETTINGS
@given(
    frames=st.lists(raw_frames(), max_size=8),
    params=deflate_params,
    limits=st.sampled_from([WebSocketLimits(), SMALL_LIMITS]),
    cuts=st.lists(st.integers(1, 400), max_size=10),
)
def test_split_points_do_not_change_events_or_replies(
    frames: list[bytes], params: DeflateParams | None, limits: WebSocketLimits, cuts: list[int]
) -> None:
    data = b"".join(frames)
    whole_events, whole_reply, whole = run(data, deflate=params, limits=limits)
    events, reply, connection = run(data, cuts, deflate=params, limits=limits)
    assert (events, reply, connection.state) == (whole_events, whole_reply, whole.state)
    events, reply, connection = run(data, list(range(1, len(data))), deflate=params, limits=limits)
    assert (events, reply, connection.state) == (whole_events, whole_reply, whole.state)


@dataclass(frozen=True)
class Send:
    kind: str  # "text", "binary", "ping", "pong"
    data: str | bytes
    fragment_bytes: int | None


sends = st.one_of(
    st.builds(Send, st.just("text"), st.text(max_size=300), st.sampled_from([None, 1, 7, 100])),
    st.builds(
        Send,
        st.just("binary"),
        st.one_of(st.binary(max_size=300), st.binary(max_size=4).map(lambda b: b * 100)),
        st.sampled_from([None, 1, 7, 100]),
    ),
    st.builds(Send, st.sampled_from(["ping", "pong"]), st.binary(max_size=125), st.none()),
)


def expected_event(send: Send) -> Event:
    if send.kind == "text":
        assert isinstance(send.data, str)
        return TextMessage(send.data)
    assert isinstance(send.data, bytes)
    if send.kind == "binary":
        return BinaryMessage(send.data)
    return Ping(send.data) if send.kind == "ping" else Pong(send.data)


@PROPERTY_SETTINGS
@given(
    messages=st.lists(sends, max_size=8),
    sender_role=st.sampled_from(list(Role)),
    params=deflate_params,
    min_bytes=st.sampled_from([0, 32]),
    cuts=st.lists(st.integers(1, 3000), max_size=10),
    close=st.sampled_from([None, 1000, 4000]),
)
def test_receiver_reads_back_everything_the_sender_sends(
    messages: list[Send],
    sender_role: Role,
    params: DeflateParams | None,
    min_bytes: int,
    cuts: list[int],
    close: int | None,
) -> None:
    limits = WebSocketLimits(deflate_min_message_bytes=min_bytes)
    receiver_role = Role.CLIENT if sender_role is Role.SERVER else Role.SERVER
    sender = WebSocketConnection(sender_role, deflate=params, limits=limits)
    for send in messages:
        if send.kind == "text":
            assert isinstance(send.data, str)
            sender.send_text(send.data, fragment_bytes=send.fragment_bytes)
        elif send.kind == "binary":
            assert isinstance(send.data, bytes)
            sender.send_binary(send.data, fragment_bytes=send.fragment_bytes)
        elif send.kind == "ping":
            assert isinstance(send.data, bytes)
            sender.send_ping(send.data)
        else:
            assert isinstance(send.data, bytes)
            sender.send_pong(send.data)
    sender.send_close(close)
    events, reply, receiver = run(
        sender.data_to_send(), cuts, role=receiver_role, deflate=params, limits=limits
    )
    closing = CloseReceived(close or 1005, "")
    assert events == [*map(expected_event, messages), closing]
    assert receiver.is_closed
    # The receiver answered every ping and the Close; the sender reads that back.
    pings = [send.data for send in messages if isinstance(send.data, bytes) and send.kind == "ping"]
    assert sender.receive_data(reply) == [*map(Pong, pings), closing]
    assert sender.is_closed
