"""WebSocketLimits: every bound on a WebSocket connection, with the close code sent when hit."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

# RFC 7692 §7.1.2: LZ77 window sizes, as a base-2 logarithm. The RFC allows 8, but zlib
# cannot compress with a 256-byte window (it silently uses 512), so 9 is our least.
MIN_WINDOW_BITS = 9
MAX_WINDOW_BITS = 15


@dataclass(frozen=True, slots=True, kw_only=True)
class WebSocketLimits:
    """Named bounds. The comment gives the close code sent when one is hit."""

    # 1009: payload of one frame, checked from its header before any payload is kept.
    max_frame_bytes: int = 1_048_576
    # 1009: a message's payload as sent on the wire (all its fragments together).
    max_message_bytes: int = 1_048_576
    # 1009: a compressed message once inflated. A deflate stream expands about
    # 1000:1, so without this bound 1 MiB on the wire is 1 GiB in memory (a bomb).
    max_decompressed_message_bytes: int = 4_194_304
    # 1008: bytes waiting in the outbox (``data_to_send``), checked when a Ping would
    # queue a Pong, so a peer that pings without reading cannot grow our memory;
    # what the application sends is its own to pace.
    max_queued_bytes: int = 1_048_576
    # permessage-deflate (RFC 7692 §7.1.2): the largest LZ77 window we use or accept,
    # a base-2 logarithm; memory per connection grows with it (zlib: about
    # 2**(bits + 2) bytes to compress, 2**bits to decompress).
    deflate_max_window_bits: int = MAX_WINDOW_BITS
    # permessage-deflate: messages shorter than this are sent uncompressed (RSV1
    # clear), since deflate makes tiny payloads longer; not a bound on the peer.
    deflate_min_message_bytes: int = 32
    # permessage-deflate: zlib compression level 1 (fast) .. 9 (small); 0 stores.
    deflate_level: int = 6
    # Messages received and not yet taken by the application: past this many, the
    # server stops reading that socket (TCP back-pressure) until the app catches up.
    max_queued_messages: int = 32
    # 1006 (dropped): after the server sends its Close, it waits this long for the
    # peer's Close before it drops TCP (RFC 6455 §7.1.1: the server closes first).
    close_timeout_s: float = 5.0
    # The server sends a Ping after this long without hearing from the peer
    # (RFC 6455 §5.5.2), so dead peers and idle NAT mappings are noticed.
    ping_interval_s: float = 20.0
    # 1011: a Ping unanswered (no frame at all from the peer) for this long closes
    # the connection as gone.
    ping_timeout_s: float = 20.0

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name.endswith("_s"):
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ValueError(f"{field.name} must be a number of seconds, not {value!r}")
                if not math.isfinite(value) or value < 0.001:
                    raise ValueError(
                        f"{field.name} must be finite and at least 0.001, not {value!r}"
                    )
            elif not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{field.name} must be an integer, not {value!r}")
        if self.max_queued_messages < 1:
            raise ValueError(
                f"max_queued_messages must be at least 1, not {self.max_queued_messages}"
            )
        for name in (
            "max_frame_bytes",
            "max_message_bytes",
            "max_decompressed_message_bytes",
            "max_queued_bytes",
        ):
            # A Close frame is up to 125 bytes of payload (RFC 6455 §5.5): every
            # limit must let control frames through, or no connection could close.
            if getattr(self, name) < 125:
                raise ValueError(f"{name} must be at least 125, not {getattr(self, name)}")
        if not MIN_WINDOW_BITS <= self.deflate_max_window_bits <= MAX_WINDOW_BITS:
            raise ValueError(
                f"deflate_max_window_bits must be {MIN_WINDOW_BITS}..{MAX_WINDOW_BITS},"
                f" not {self.deflate_max_window_bits}"
            )
        if self.deflate_min_message_bytes < 0:
            raise ValueError(
                f"deflate_min_message_bytes must be >= 0, not {self.deflate_min_message_bytes}"
            )
        if not 0 <= self.deflate_level <= 9:
            raise ValueError(f"deflate_level must be 0..9, not {self.deflate_level}")
