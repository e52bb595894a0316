"""WebSocket frames (RFC 6455 §5.2): the parser's rules, the writer's bytes, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barehttp.protocol.websocket_errors import MessageTooBig, ProtocolError, WebSocketError
from barehttp.protocol.websocket_frames import (
    Frame,
    FrameParser,
    Opcode,
    Role,
    apply_mask,
    encode_frame,
)
from tests.protocol.helpers import split_at
from tests.protocol.websocket_helpers import MASK, raw_frame

PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, database=None)
LIMIT = 1_000_000


def parse(data: bytes, role: Role = Role.SERVER, *, allow_rsv1: bool = False) -> list[Frame]:
    return FrameParser(role, max_frame_bytes=LIMIT, allow_rsv1=allow_rsv1).feed(data)


def test_rfc_examples() -> None:
    # RFC 6455 §5.7: single-frame unmasked and masked "Hello", unmasked Ping.
    assert encode_frame(Opcode.TEXT, b"Hello") == bytes.fromhex("810548656c6c6f")
    masked = bytes.fromhex("818537fa213d7f9f4d5158")
    assert encode_frame(Opcode.TEXT, b"Hello", mask=MASK) == masked
    assert parse(masked) == [Frame(Opcode.TEXT, b"Hello")]
    assert parse(bytes.fromhex("810548656c6c6f"), Role.CLIENT) == [Frame(Opcode.TEXT, b"Hello")]
    # §5.7: a fragmented unmasked text message "Hel" + "lo".
    fragments = bytes.fromhex("010348656c80026c6f")
    assert parse(fragments, Role.CLIENT) == [
        Frame(Opcode.TEXT, b"Hel", fin=False),
        Frame(Opcode.CONTINUATION, b"lo"),
    ]
    # §5.7: 256 bytes in one unmasked binary frame uses the 16-bit length.
    assert encode_frame(Opcode.BINARY, b"\0" * 256)[:4] == bytes.fromhex("827e0100")
    # §5.7: 64 KiB uses the 64-bit length.
    assert encode_frame(Opcode.BINARY, b"\0" * 65536)[:10] == bytes.fromhex("827f0000000000010000")


@pytest.mark.parametrize(
    ("length", "header_bytes"),
    [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)],
    ids=["empty", "7-bit-max", "16-bit-min", "16-bit-max", "64-bit-min"],
)
def test_writer_uses_shortest_length_encoding(length: int, header_bytes: int) -> None:
    frame = encode_frame(Opcode.BINARY, b"x" * length)
    assert len(frame) == header_bytes + length
    assert parse(frame, Role.CLIENT) == [Frame(Opcode.BINARY, b"x" * length)]


@pytest.mark.parametrize("length_bytes", [2, 8], ids=["16-bit", "64-bit"])
def test_accepts_non_minimal_length_encoding(length_bytes: int) -> None:
    # §5.2 asks senders for the minimal encoding; a receiver need not enforce it.
    frame = raw_frame(Opcode.BINARY, b"abc", length_bytes=length_bytes)
    assert parse(frame) == [Frame(Opcode.BINARY, b"abc")]


# (bytes, role, error type) — each breaks one rule of §5.
FRAME_RULES = [
    pytest.param(raw_frame(0x3), Role.SERVER, ProtocolError, id="reserved-opcode-0x3"),
    pytest.param(raw_frame(0x7), Role.SERVER, ProtocolError, id="reserved-opcode-0x7"),
    pytest.param(raw_frame(0xB), Role.SERVER, ProtocolError, id="reserved-control-opcode-0xB"),
    pytest.param(raw_frame(0xF), Role.SERVER, ProtocolError, id="reserved-control-opcode-0xF"),
    pytest.param(raw_frame(0x1, rsv=4), Role.SERVER, ProtocolError, id="rsv1-without-extension"),
    pytest.param(raw_frame(0x1, rsv=2), Role.SERVER, ProtocolError, id="rsv2-set"),
    pytest.param(raw_frame(0x1, rsv=1), Role.SERVER, ProtocolError, id="rsv3-set"),
    pytest.param(raw_frame(0x1, b"x", mask=None), Role.SERVER, ProtocolError, id="client-unmasked"),
    pytest.param(raw_frame(0x1, b"x"), Role.CLIENT, ProtocolError, id="server-frame-masked"),
    pytest.param(raw_frame(0x9, b"x" * 126), Role.SERVER, ProtocolError, id="ping-over-125"),
    pytest.param(raw_frame(0x8, b"x" * 126), Role.SERVER, ProtocolError, id="close-over-125"),
    pytest.param(
        raw_frame(0x9, b"x", length_bytes=2), Role.SERVER, ProtocolError, id="control-16-bit-len"
    ),
    pytest.param(raw_frame(0x9, fin=False), Role.SERVER, ProtocolError, id="fragmented-ping"),
    pytest.param(raw_frame(0x8, fin=False), Role.SERVER, ProtocolError, id="fragmented-close"),
    pytest.param(
        raw_frame(0x2, declared_length=1 << 63, length_bytes=8)[:14],
        Role.SERVER,
        ProtocolError,
        id="64-bit-length-msb-set",
    ),
    pytest.param(
        raw_frame(0x2, declared_length=LIMIT + 1)[:14],
        Role.SERVER,
        MessageTooBig,
        id="frame-over-limit",
    ),
]


@pytest.mark.parametrize(("data", "role", "error"), FRAME_RULES)
def test_frame_rule(data: bytes, role: Role, error: type[WebSocketError]) -> None:
    with pytest.raises(error):
        parse(data, role)
    # The rule is found from the header alone, even fed one byte at a time.
    parser = FrameParser(role, max_frame_bytes=LIMIT)
    with pytest.raises(error):
        for byte in data:
            parser.feed(bytes([byte]))


@pytest.mark.parametrize(
    "data",
    [
        raw_frame(0x9, rsv=4),
        raw_frame(0x0, rsv=4),
    ],
    ids=["rsv1-on-control-frame", "rsv1-on-continuation"],
)
def test_rsv1_only_on_first_data_frame_even_with_deflate(data: bytes) -> None:
    # RFC 7692 §6: RSV1 marks a compressed message on its first frame only.
    with pytest.raises(ProtocolError):
        parse(data, allow_rsv1=True)


def test_rsv1_on_data_frame_with_deflate() -> None:
    assert parse(raw_frame(0x1, b"x", rsv=4), allow_rsv1=True) == [
        Frame(Opcode.TEXT, b"x", rsv1=True)
    ]


def test_frame_at_limit_is_accepted() -> None:
    parser = FrameParser(Role.SERVER, max_frame_bytes=200)
    assert parser.feed(raw_frame(0x2, b"y" * 200)) == [Frame(Opcode.BINARY, b"y" * 200)]
    with pytest.raises(MessageTooBig):
        parser.feed(raw_frame(0x2, b"y" * 201))


def test_incomplete_frame_waits_and_is_buffered() -> None:
    parser = FrameParser(Role.SERVER, max_frame_bytes=LIMIT)
    data = raw_frame(0x2, b"z" * 300)
    assert parser.feed(data[:-1]) == []
    assert parser.buffered_bytes == len(data) - 1
    assert parser.feed(data[-1:]) == [Frame(Opcode.BINARY, b"z" * 300)]
    assert parser.buffered_bytes == 0


def test_writer_refuses_bad_control_frames() -> None:
    with pytest.raises(ValueError):
        encode_frame(Opcode.PING, b"x" * 126)
    with pytest.raises(ValueError):
        encode_frame(Opcode.CLOSE, b"", fin=False)
    with pytest.raises(ValueError):
        encode_frame(Opcode.TEXT, b"", mask=b"abc")


@given(data=st.binary(max_size=2_000), mask=st.binary(min_size=4, max_size=4))
def test_masking_is_xor_with_repeated_key(data: bytes, mask: bytes) -> None:
    expected = bytes(byte ^ mask[index % 4] for index, byte in enumerate(data))  # §5.3
    assert apply_mask(data, mask) == expected
    assert apply_mask(expected, mask) == data


opcodes = st.sampled_from(list(Opcode))


@st.composite
def frames(draw: st.DrawFn) -> Frame:
    opcode = draw(opcodes)
    if opcode.is_control:
        return Frame(opcode, draw(st.binary(max_size=125)))
    size = draw(st.sampled_from([10, 200, 70_000]))
    # RFC 7692 §6: RSV1 is valid on the first frame of a data message only.
    rsv1 = opcode is not Opcode.CONTINUATION and draw(st.booleans())
    return Frame(opcode, draw(st.binary(max_size=size)), draw(st.booleans()), rsv1)


@PROPERTY_SETTINGS
@given(
    sent=st.lists(frames(), max_size=6),
    role=st.sampled_from(list(Role)),
    mask=st.binary(min_size=4, max_size=4),
    cuts=st.lists(st.integers(1, 200_000), max_size=10),
)
def test_parser_reads_back_every_frame_the_writer_makes(
    sent: list[Frame], role: Role, mask: bytes, cuts: list[int]
) -> None:
    # The sender is the other role: a client masks (§5.3), a server does not.
    key = mask if role is Role.SERVER else None
    data = b"".join(
        encode_frame(frame.opcode, frame.payload, fin=frame.fin, rsv1=frame.rsv1, mask=key)
        for frame in sent
    )
    parser = FrameParser(role, max_frame_bytes=LIMIT, allow_rsv1=True)
    received: list[Frame] = []
    for piece in split_at(data, cuts):
        received += parser.feed(piece)
    assert received == sent
    assert parser.buffered_bytes == 0
