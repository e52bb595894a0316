"""WebSocket messages and the closing handshake (RFC 6455 §5.4-§5.6, §7, §8)."""

from __future__ import annotations

import pytest

from barehttp.protocol.websocket_connection import (
    ConnectionState,
    SendAfterClose,
    WebSocketConnection,
)
from barehttp.protocol.websocket_events import (
    BinaryMessage,
    CloseReceived,
    ConnectionFailed,
    Ping,
    Pong,
    TextMessage,
)
from barehttp.protocol.websocket_frames import FrameParser, Opcode, Role, encode_frame
from barehttp.protocol.websocket_limits import WebSocketLimits
from tests.protocol.websocket_helpers import MASK, close_payload, raw_frame, run

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def sent_frames(data: bytes, role: Role = Role.CLIENT) -> list[tuple[Opcode, bytes, bool]]:
    """The frames a server queued, as (opcode, payload, fin), read by a client parser."""
    return [
        (frame.opcode, frame.payload, frame.fin)
        for frame in FrameParser(role, max_frame_bytes=1 << 30, allow_rsv1=True).feed(data)
    ]


def test_fragmented_message_with_ping_between_fragments() -> None:
    # §5.4: control frames MAY be injected in the middle of a fragmented message.
    data = (
        raw_frame(TEXT, b"Hel", fin=False)
        + raw_frame(PING, b"beat")
        + raw_frame(CONT, b"l", fin=False)
        + raw_frame(PONG, b"p")
        + raw_frame(CONT, b"o")
    )
    events, reply, connection = run(data)
    assert events == [Ping(b"beat"), Pong(b"p"), TextMessage("Hello")]
    assert sent_frames(reply) == [(Opcode.PONG, b"beat", True)]  # §5.5.2: same payload
    assert connection.state is ConnectionState.OPEN


def test_binary_message_in_fragments() -> None:
    data = raw_frame(BINARY, b"\x00\xff", fin=False) + raw_frame(CONT, b"", fin=False)
    events, _, _ = run(data + raw_frame(CONT, b"\x01"))
    assert events == [BinaryMessage(b"\x00\xff\x01")]


def test_empty_messages() -> None:
    events, _, _ = run(raw_frame(TEXT) + raw_frame(BINARY))
    assert events == [TextMessage(""), BinaryMessage(b"")]


def test_utf8_character_split_across_fragments() -> None:
    encoded = "é€𝄞".encode()
    data = b"".join(
        raw_frame(TEXT if index == 0 else CONT, encoded[index : index + 1], fin=index == 8)
        for index in range(9)
    )
    assert run(data)[0] == [TextMessage("é€𝄞")]


# (frames, close code of the failure, events before it) — each breaks one rule.
MESSAGE_RULES = [
    pytest.param(raw_frame(CONT, b"x"), 1002, [], id="continuation-without-message"),
    pytest.param(
        raw_frame(TEXT, b"a", fin=False) + raw_frame(TEXT, b"b"),
        1002,
        [],
        id="new-message-mid-message",
    ),
    pytest.param(
        raw_frame(TEXT, b"a", fin=False) + raw_frame(BINARY, b"b"),
        1002,
        [],
        id="binary-interleaved-in-text",
    ),
    pytest.param(raw_frame(TEXT, b"\xff"), 1007, [], id="invalid-utf8-text"),
    pytest.param(raw_frame(TEXT, b"\xed\xa0\x80"), 1007, [], id="utf8-surrogate"),
    pytest.param(raw_frame(TEXT, b"\xf4\x90\x80\x80"), 1007, [], id="utf8-above-u10ffff"),
    pytest.param(raw_frame(TEXT, b"\xc0\xaf"), 1007, [], id="utf8-overlong"),
    pytest.param(
        raw_frame(TEXT, b"\xce", fin=False) + raw_frame(CONT, b""), 1007, [], id="utf8-truncated"
    ),
    pytest.param(raw_frame(CLOSE, b"\x03"), 1002, [], id="close-1-byte-payload"),
    pytest.param(raw_frame(CLOSE, close_payload(1000, b"\xff")), 1007, [], id="close-reason-utf8"),
    pytest.param(
        raw_frame(TEXT, b"ok") + raw_frame(0x3), 1002, [TextMessage("ok")], id="events-before-error"
    ),
]


@pytest.mark.parametrize(("data", "code", "before"), MESSAGE_RULES)
def test_message_rule(data: bytes, code: int, before: list[object]) -> None:
    for cuts in ([], list(range(1, len(data)))):
        events, reply, connection = run(data, cuts)
        assert events[:-1] == before
        assert isinstance(events[-1], ConnectionFailed)
        assert events[-1].code == code
        assert connection.state is ConnectionState.CLOSED
        # §7.1.7: the failing endpoint sends a Close with the code.
        ((opcode, payload, _),) = sent_frames(reply)
        assert opcode is Opcode.CLOSE and int.from_bytes(payload[:2], "big") == code


def test_invalid_utf8_fails_before_the_message_ends() -> None:
    # §8.1 and Autobahn's "fail fast" cases: the first bad fragment fails the connection.
    events, _, _ = run(raw_frame(TEXT, b"ok\xf5", fin=False))
    assert events == [ConnectionFailed(1007, "text message is not valid UTF-8")]
    # A valid prefix of a multi-byte character is not yet an error.
    assert run(raw_frame(TEXT, b"ok\xf0\x9d", fin=False))[0] == []


VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]
VALID_CLOSE_CODES += [3000, 3999, 4000, 4999]
INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


@pytest.mark.parametrize("code", VALID_CLOSE_CODES)
def test_valid_close_code_is_echoed(code: int) -> None:
    events, reply, connection = run(raw_frame(CLOSE, close_payload(code, "bye é".encode())))
    assert events == [CloseReceived(code, "bye é")]
    # §5.5.1: a Close is answered with a Close, echoing the status code.
    assert sent_frames(reply) == [(Opcode.CLOSE, close_payload(code), True)]
    assert connection.state is ConnectionState.CLOSED


@pytest.mark.parametrize("code", INVALID_CLOSE_CODES)
def test_invalid_close_code_is_protocol_error(code: int) -> None:
    # §7.4.1/§7.4.2: reserved, report-only and unassigned codes never appear on the wire.
    events, _, _ = run(raw_frame(CLOSE, close_payload(code)))
    assert events == [ConnectionFailed(1002, "invalid close code")]


def test_empty_close_is_reported_as_1005_and_answered_empty() -> None:
    events, reply, _ = run(raw_frame(CLOSE))
    assert events == [CloseReceived(1005, "")]  # §7.1.5
    assert sent_frames(reply) == [(Opcode.CLOSE, b"", True)]


def test_closing_handshake_started_by_us() -> None:
    connection = WebSocketConnection()
    connection.send_close(1001, "going away")
    assert connection.state is ConnectionState.CLOSING
    assert sent_frames(connection.data_to_send()) == [
        (Opcode.CLOSE, close_payload(1001, b"going away"), True)
    ]
    # §7.1.2: data may still arrive until the peer's Close.
    assert connection.receive_data(raw_frame(TEXT, b"late")) == [TextMessage("late")]
    with pytest.raises(SendAfterClose):  # §5.5.1: no data frames after our Close
        connection.send_text("x")
    connection.send_ping(b"still")  # control frames are allowed while CLOSING
    assert connection.receive_data(raw_frame(CLOSE, close_payload(1001))) == [
        CloseReceived(1001, "")
    ]
    assert connection.is_closed
    assert sent_frames(connection.data_to_send()) == [(Opcode.PING, b"still", True)]  # no 2nd Close


def test_bytes_after_the_close_are_ignored() -> None:
    events, reply, connection = run(raw_frame(CLOSE) + raw_frame(TEXT, b"x") + raw_frame(0x3))
    assert events == [CloseReceived(1005, "")]
    assert connection.receive_data(raw_frame(PING)) == []
    assert sent_frames(reply) == [(Opcode.CLOSE, b"", True)]
    with pytest.raises(SendAfterClose):
        connection.send_ping()


def test_failure_while_closing_sends_no_second_close() -> None:
    connection = WebSocketConnection()
    connection.send_close()
    connection.data_to_send()
    events = connection.receive_data(raw_frame(TEXT, b"\xff"))
    assert events == [ConnectionFailed(1007, "text message is not valid UTF-8")]
    assert connection.data_to_send() == b""


def test_send_close_checks_code_and_reason() -> None:
    connection = WebSocketConnection()
    for code in (1005, 1006, 1015, 999, 5000):
        with pytest.raises(ValueError):
            connection.send_close(code)
    with pytest.raises(ValueError):
        connection.send_close(1000, "x" * 124)  # §5.5: 125 bytes with the code
    with pytest.raises(ValueError):
        connection.send_close(None, "reason without code")
    connection.send_close(None)
    assert sent_frames(connection.data_to_send()) == [(Opcode.CLOSE, b"", True)]


def test_control_payload_bounded_on_send() -> None:
    connection = WebSocketConnection()
    with pytest.raises(ValueError):
        connection.send_ping(b"x" * 126)
    with pytest.raises(ValueError):
        connection.send_pong(b"x" * 126)


def test_server_frames_unmasked_client_frames_masked() -> None:
    server = WebSocketConnection(Role.SERVER)
    server.send_text("hi")
    assert server.data_to_send() == b"\x81\x02hi"  # §5.1: a server never masks
    client = WebSocketConnection(Role.CLIENT, mask_source=lambda: MASK)
    client.send_text("hi")
    assert client.data_to_send() == encode_frame(Opcode.TEXT, b"hi", mask=MASK)  # §5.3


def test_send_fragmented() -> None:
    server = WebSocketConnection()
    server.send_text("abcdefg", fragment_bytes=3)
    assert sent_frames(server.data_to_send()) == [
        (Opcode.TEXT, b"abc", False),
        (Opcode.CONTINUATION, b"def", False),
        (Opcode.CONTINUATION, b"g", True),
    ]
    with pytest.raises(ValueError):
        server.send_binary(b"x", fragment_bytes=0)


LIMITS = WebSocketLimits(max_frame_bytes=200, max_message_bytes=300, max_queued_bytes=200)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(raw_frame(BINARY, b"x" * 201), 1009, id="frame-over-max-frame-bytes"),
        pytest.param(
            raw_frame(BINARY, b"x" * 200, fin=False) + raw_frame(CONT, b"x" * 101),
            1009,
            id="message-over-max-message-bytes",
        ),
        pytest.param(raw_frame(PING, b"p" * 100) * 3, 1008, id="pings-past-max-queued-bytes"),
    ],
)
def test_limit(data: bytes, code: int) -> None:
    events, _, _ = run(data, limits=LIMITS)
    assert isinstance(events[-1], ConnectionFailed)
    assert events[-1].code == code


def test_limits_at_their_bound_pass() -> None:
    data = raw_frame(BINARY, b"x" * 200, fin=False) + raw_frame(CONT, b"x" * 100)
    data += raw_frame(PING, b"p" * 98) * 2  # two pongs of 100 bytes each
    connection = WebSocketConnection(limits=LIMITS)
    events = connection.receive_data(data)
    assert events == [BinaryMessage(b"x" * 300), Ping(b"p" * 98), Ping(b"p" * 98)]
    assert connection.queued_bytes == 200
    # What the application sends is not bounded by max_queued_bytes.
    connection.send_binary(b"y" * 1000)
    assert connection.queued_bytes == 200 + 1004
    # Taking the queued bytes makes room for more replies.
    connection.data_to_send()
    assert connection.receive_data(raw_frame(PING, b"p" * 98)) == [Ping(b"p" * 98)]


@pytest.mark.parametrize(
    "fields",
    [
        {"max_frame_bytes": 124},
        {"max_message_bytes": 0},
        {"max_decompressed_message_bytes": -1},
        {"max_queued_bytes": 10},
        {"deflate_max_window_bits": 8},
        {"deflate_max_window_bits": 16},
        {"deflate_level": 10},
        {"deflate_min_message_bytes": -1},
        {"max_frame_bytes": 1.5},
        {"max_frame_bytes": True},
        {"max_queued_messages": 0},
        {"close_timeout_s": 0},
        {"ping_interval_s": float("inf")},
        {"ping_timeout_s": "5"},
    ],
    ids=lambda fields: "-".join(f"{name}={value}" for name, value in fields.items()),
)
def test_limits_refuse_nonsense(fields: dict[str, object]) -> None:
    name = next(iter(fields))
    with pytest.raises(ValueError, match=name):
        WebSocketLimits(**fields)  # type: ignore[arg-type]


def test_close_answered_even_with_a_full_outbox() -> None:
    # The closing reply is one frame, once: max_queued_bytes (checked for pongs) does
    # not turn a clean close into a failure.
    connection = WebSocketConnection(limits=LIMITS)
    connection.send_binary(b"y" * 1000)
    assert connection.receive_data(raw_frame(PING)) == [
        ConnectionFailed(1008, "too many unread replies queued for the peer")
    ]
    connection = WebSocketConnection(limits=LIMITS)
    connection.send_binary(b"y" * 1000)
    assert connection.receive_data(raw_frame(CLOSE, close_payload(1000))) == [
        CloseReceived(1000, "")
    ]
    assert sent_frames(connection.data_to_send())[-1] == (Opcode.CLOSE, close_payload(1000), True)
