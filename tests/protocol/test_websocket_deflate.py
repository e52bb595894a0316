"""permessage-deflate (RFC 7692): negotiation, compressed messages, the bound on inflation."""

from __future__ import annotations

import zlib

import pytest

from barehttp.protocol.websocket_connection import WebSocketConnection
from barehttp.protocol.websocket_deflate import (
    DeflateParams,
    PerMessageDeflate,
    format_deflate_offer,
    negotiate_deflate,
)
from barehttp.protocol.websocket_events import BinaryMessage, ConnectionFailed, TextMessage
from barehttp.protocol.websocket_frames import FrameParser, Role
from barehttp.protocol.websocket_handshake import parse_extensions
from barehttp.protocol.websocket_limits import WebSocketLimits
from tests.protocol.websocket_helpers import raw_frame, run

LIMITS = WebSocketLimits()


def negotiate(header: str, limits: WebSocketLimits = LIMITS) -> tuple[DeflateParams, str] | None:
    return negotiate_deflate(parse_extensions([header]), limits)


# (offer, response we send, params) — RFC 7692 §7.1
ACCEPTED = [
    pytest.param("permessage-deflate", "permessage-deflate", DeflateParams(), id="bare"),
    pytest.param(
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover",
        DeflateParams(server_no_context_takeover=True),
        id="server-no-context-takeover-honoured",
    ),
    pytest.param(
        "permessage-deflate; client_no_context_takeover",
        "permessage-deflate; client_no_context_takeover",
        DeflateParams(client_no_context_takeover=True),
        id="client-no-context-takeover",
    ),
    pytest.param(
        "permessage-deflate; server_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=10",
        DeflateParams(server_max_window_bits=10),
        id="server-window-as-asked",
    ),
    pytest.param(
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=15",
        DeflateParams(),
        id="client-window-without-value",
    ),
    pytest.param(
        'permessage-deflate; client_max_window_bits="12"',
        "permessage-deflate; client_max_window_bits=12",
        DeflateParams(client_max_window_bits=12),
        id="client-window-quoted",
    ),
    pytest.param(
        "permessage-deflate; server_max_window_bits=8, permessage-deflate",
        "permessage-deflate",
        DeflateParams(),
        id="window-8-declined-next-offer-taken",
    ),
    pytest.param(
        "x-webkit-deflate-frame, permessage-deflate; foo, permessage-deflate",
        "permessage-deflate",
        DeflateParams(),
        id="unknown-extension-and-unknown-param-skipped",
    ),
]


@pytest.mark.parametrize(("offer", "response", "params"), ACCEPTED)
def test_accepts_offer(offer: str, response: str, params: DeflateParams) -> None:
    assert negotiate(offer) == (params, response)


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=x",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; mystery",
        "deflate-stream",
    ],
    ids=[
        "repeated-param",
        "no-context-takeover-with-value",
        "client-no-context-takeover-with-value",
        "server-window-without-value",
        "window-16",
        "window-7",
        "window-leading-zero",
        "client-window-0",
        "unknown-param",
        "other-extension",
    ],
)
def test_declines_offer(offer: str) -> None:
    # RFC 7692 §7.1: decline (not fail) an offer with a bad or unknown parameter.
    assert negotiate(offer) is None


def test_small_window_limit_needs_client_window_param() -> None:
    small = WebSocketLimits(deflate_max_window_bits=10)
    # §7.1.2.2: without client_max_window_bits the client's window may be 15.
    assert negotiate("permessage-deflate", small) is None
    assert negotiate("permessage-deflate; client_max_window_bits", small) == (
        DeflateParams(server_max_window_bits=10, client_max_window_bits=10),
        "permessage-deflate; client_max_window_bits=10",
    )


def test_client_offer_round_trips() -> None:
    params = DeflateParams(True, True, 11, 12)
    offer = format_deflate_offer(params)
    assert negotiate(offer) == (
        params,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover;"
        " server_max_window_bits=11; client_max_window_bits=12",
    )


def pair(
    params: DeflateParams, limits: WebSocketLimits = LIMITS
) -> tuple[WebSocketConnection, WebSocketConnection]:
    return (
        WebSocketConnection(Role.SERVER, deflate=params, limits=limits),
        WebSocketConnection(Role.CLIENT, deflate=params, limits=limits),
    )


def test_rfc_example_hello() -> None:
    # RFC 7692 §7.2.3.1: "Hello" compressed is f2 48 cd c9 c9 07 00.
    compressed = bytes.fromhex("f248cdc9c90700")
    events, _, _ = run(raw_frame(0x1, compressed, rsv=4), deflate=DeflateParams())
    assert events == [TextMessage("Hello")]
    # §7.2.3.1 again, split into two fragments; RSV1 on the first only.
    data = raw_frame(0x1, compressed[:3], rsv=4, fin=False) + raw_frame(0x0, compressed[3:])
    assert run(data, deflate=DeflateParams())[0] == [TextMessage("Hello")]
    # §7.2.3.6: an empty message is the single byte 0x00.
    assert run(raw_frame(0x2, b"\x00", rsv=4), deflate=DeflateParams())[0] == [BinaryMessage(b"")]


def test_uncompressed_message_allowed_with_deflate() -> None:
    # RFC 7692 §6: RSV1 clear means the message was sent as is.
    assert run(raw_frame(0x1, b"plain"), deflate=DeflateParams())[0] == [TextMessage("plain")]


@pytest.mark.parametrize(
    "params",
    [DeflateParams(), DeflateParams(True, True), DeflateParams(server_max_window_bits=9)],
    ids=["context-takeover", "no-context-takeover", "window-9"],
)
def test_messages_compress_and_read_back(params: DeflateParams) -> None:
    server, client = pair(params)
    messages = ["repeat " * 100, "repeat " * 100, "short", "é" * 500]
    for text in messages:
        server.send_text(text)
    data = server.data_to_send()
    assert len(data) < sum(len(text.encode()) for text in messages) // 4
    assert client.receive_data(data) == [TextMessage(text) for text in messages]


def test_context_takeover_makes_repeats_smaller() -> None:
    sizes = []
    for params in (DeflateParams(), DeflateParams(server_no_context_takeover=True)):
        server, _ = pair(params)
        server.send_text("the same message, again and again " * 4)
        first = len(server.data_to_send())
        server.send_text("the same message, again and again " * 4)
        sizes.append((first, len(server.data_to_send())))
    (first, second), (fresh_first, fresh_second) = sizes
    assert second < first  # the second message refers back to the first
    assert fresh_second == fresh_first  # §7.1.1.1: a fresh context every message


def test_short_messages_sent_uncompressed() -> None:
    server, _ = pair(DeflateParams())
    server.send_text("hi")
    assert server.data_to_send() == b"\x81\x02hi"  # RSV1 clear


def test_decompression_bomb_stopped_at_limit() -> None:
    limits = WebSocketLimits(max_decompressed_message_bytes=10_000)
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(b"\0" * 10_000_000) + bomb.flush(zlib.Z_SYNC_FLUSH)
    assert len(payload) < 11_000
    events, reply, _ = run(
        raw_frame(0x2, payload[:-4], rsv=4), deflate=DeflateParams(), limits=limits
    )
    assert events == [ConnectionFailed(1009, "message over the limit once decompressed")]
    assert reply[2:4] == (1009).to_bytes(2, "big")


def test_decompressed_message_at_limit_passes() -> None:
    limits = WebSocketLimits(max_decompressed_message_bytes=10_000)
    server, client = pair(DeflateParams(), limits)
    client.send_binary(b"\0" * 10_000)
    assert server.receive_data(client.data_to_send()) == [BinaryMessage(b"\0" * 10_000)]
    client.send_binary(b"\0" * 10_001)
    assert server.receive_data(client.data_to_send())[0] == ConnectionFailed(
        1009, "message over the limit once decompressed"
    )


def test_corrupt_compressed_data_is_protocol_error() -> None:
    events, _, _ = run(raw_frame(0x2, b"\xff\xff\xff", rsv=4), deflate=DeflateParams())
    assert events == [ConnectionFailed(1002, "invalid compressed data")]


def test_compressed_invalid_utf8_is_1007() -> None:
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    payload = (deflater.compress(b"ok\xff") + deflater.flush(zlib.Z_SYNC_FLUSH))[:-4]
    events, _, _ = run(raw_frame(0x1, payload, rsv=4), deflate=DeflateParams())
    assert events == [ConnectionFailed(1007, "text message is not valid UTF-8")]


def test_fragmented_compressed_send_sets_rsv1_on_first_frame_only() -> None:
    server, client = pair(DeflateParams())
    server.send_text("abc" * 200, fragment_bytes=4)
    data = server.data_to_send()
    frames = FrameParser(Role.CLIENT, max_frame_bytes=1000, allow_rsv1=True).feed(data)
    assert len(frames) > 1
    assert [frame.rsv1 for frame in frames] == [True] + [False] * (len(frames) - 1)
    assert client.receive_data(data) == [TextMessage("abc" * 200)]


def test_stream_ended_with_bfinal_starts_anew() -> None:
    # A peer may end a message with a final block (BFINAL); the next message then
    # starts a new stream rather than failing.
    codec = PerMessageDeflate(DeflateParams(), Role.SERVER, LIMITS)
    for text in (b"first", b"second"):
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        final = deflater.compress(text) + deflater.flush(zlib.Z_FINISH)
        assert codec.decompress(final, final=True, budget=100) == text
