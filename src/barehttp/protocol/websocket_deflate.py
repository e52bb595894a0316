"""permessage-deflate (RFC 7692): negotiating the offer, and compressing messages with zlib."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from barehttp.protocol.websocket_errors import MessageTooBig, ProtocolError
from barehttp.protocol.websocket_frames import Role
from barehttp.protocol.websocket_limits import MAX_WINDOW_BITS, MIN_WINDOW_BITS, WebSocketLimits

EXTENSION_NAME = "permessage-deflate"

# RFC 7692 §7.2.1: a sender strips, and §7.2.2 a receiver appends, the empty
# stored block that Z_SYNC_FLUSH ends each message with.
_SYNC_TAIL = b"\x00\x00\xff\xff"

# An extension offer as parsed from Sec-WebSocket-Extensions: the extension name
# and its parameters in order, each with its value (None when it has none).
ExtensionOffer = tuple[str, tuple[tuple[str, str | None], ...]]


@dataclass(frozen=True, slots=True)
class DeflateParams:
    """The agreed parameters (RFC 7692 §7.1); ``*_max_window_bits`` 9..15."""

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = MAX_WINDOW_BITS
    client_max_window_bits: int = MAX_WINDOW_BITS

    def __post_init__(self) -> None:
        for bits in (self.server_max_window_bits, self.client_max_window_bits):
            if not MIN_WINDOW_BITS <= bits <= MAX_WINDOW_BITS:
                raise ValueError(f"max_window_bits must be {MIN_WINDOW_BITS}..{MAX_WINDOW_BITS}")


def _window_bits(value: str | None) -> int | None:
    """RFC 7692 §7.1.2.1: 1*DIGIT, "8".."15" without leading zeros; None if invalid."""
    if value is None or value not in {str(bits) for bits in range(8, 16)}:
        return None
    return int(value)


def negotiate_deflate(
    offers: list[ExtensionOffer], limits: WebSocketLimits
) -> tuple[DeflateParams, str] | None:
    """The first permessage-deflate offer we can accept, and the response to send.

    Returns ``(params, extension)`` where ``extension`` is the value for the
    response's Sec-WebSocket-Extensions, or None when every offer is declined
    (which is not an error: the connection runs uncompressed, RFC 7692 §5).
    """
    for name, parameters in offers:
        if name.lower() == EXTENSION_NAME:
            accepted = _accept_offer(parameters, limits.deflate_max_window_bits)
            if accepted is not None:
                return accepted
    return None


def _accept_offer(
    parameters: tuple[tuple[str, str | None], ...], max_bits: int
) -> tuple[DeflateParams, str] | None:
    seen: dict[str, str | None] = {}
    for key, value in parameters:
        key = key.lower()
        # RFC 7692 §7.1: decline an offer with a repeated or unknown parameter,
        # or a parameter with an invalid value.
        if key in seen:
            return None
        seen[key] = value
    response = [EXTENSION_NAME]
    server_no_context_takeover = client_no_context_takeover = False
    server_bits = client_bits = max_bits
    for key, value in seen.items():
        if key == "server_no_context_takeover":  # §7.1.1.1: no value; we MUST comply
            if value is not None:
                return None
            server_no_context_takeover = True
            response.append(key)
        elif key == "client_no_context_takeover":  # §7.1.1.2: no value
            if value is not None:
                return None
            client_no_context_takeover = True
            response.append(key)
        elif key == "server_max_window_bits":  # §7.1.2.1: value required
            bits = _window_bits(value)
            if bits is None:
                return None
            server_bits = min(bits, max_bits)
            if server_bits < MIN_WINDOW_BITS:  # zlib cannot compress with 8 bits
                return None
            response.append(f"{key}={server_bits}")
        elif key == "client_max_window_bits":  # §7.1.2.2: value optional
            bits = MAX_WINDOW_BITS if value is None else _window_bits(value)
            if bits is None:
                return None
            client_bits = min(bits, max_bits)
            response.append(f"{key}={client_bits}")
        else:
            return None
    # §7.1.2.2: without client_max_window_bits in the offer we may not limit the
    # client's window, which is then 15; decline rather than exceed our limit.
    if "client_max_window_bits" not in seen and max_bits < MAX_WINDOW_BITS:
        return None
    params = DeflateParams(
        server_no_context_takeover=server_no_context_takeover,
        client_no_context_takeover=client_no_context_takeover,
        server_max_window_bits=server_bits,
        client_max_window_bits=max(client_bits, MIN_WINDOW_BITS),
    )
    return params, "; ".join(response)


def format_deflate_offer(params: DeflateParams) -> str:
    """A client's offer asking for ``params`` (RFC 7692 §7.1), for the client role."""
    parts = [EXTENSION_NAME]
    if params.server_no_context_takeover:
        parts.append("server_no_context_takeover")
    if params.client_no_context_takeover:
        parts.append("client_no_context_takeover")
    if params.server_max_window_bits < MAX_WINDOW_BITS:
        parts.append(f"server_max_window_bits={params.server_max_window_bits}")
    parts.append(f"client_max_window_bits={params.client_max_window_bits}")
    return "; ".join(parts)


class PerMessageDeflate:
    """Compresses our messages and inflates the peer's, within the limits (RFC 7692 §7.2)."""

    __slots__ = (
        "_deflater",
        "_deflater_bits",
        "_inflater",
        "_inflater_bits",
        "_level",
        "_reset_deflater",
        "_reset_inflater",
    )

    def __init__(self, params: DeflateParams, role: Role, limits: WebSocketLimits) -> None:
        server = role is Role.SERVER
        # RFC 7692 §7.1.2: each side compresses within its own window and resets
        # its own context per message when *_no_context_takeover was agreed.
        self._deflater_bits = (
            params.server_max_window_bits if server else params.client_max_window_bits
        )
        self._inflater_bits = (
            params.client_max_window_bits if server else params.server_max_window_bits
        )
        self._reset_deflater = (
            params.server_no_context_takeover if server else params.client_no_context_takeover
        )
        self._reset_inflater = (
            params.client_no_context_takeover if server else params.server_no_context_takeover
        )
        self._level = limits.deflate_level
        self._deflater = self._new_deflater()
        self._inflater = zlib.decompressobj(-self._inflater_bits)

    def _new_deflater(self) -> zlib._Compress:
        return zlib.compressobj(self._level, zlib.DEFLATED, -self._deflater_bits)

    def compress(self, data: bytes) -> bytes:
        """The compressed payload of one message (RFC 7692 §7.2.1)."""
        compressed = self._deflater.compress(data) + self._deflater.flush(zlib.Z_SYNC_FLUSH)
        if compressed.endswith(_SYNC_TAIL):
            compressed = compressed[:-4]
        if self._reset_deflater:
            self._deflater = self._new_deflater()
        return compressed or b"\x00"  # §7.2.3.6: an empty message is one 0x00 byte

    def decompress(self, data: bytes, *, final: bool, budget: int) -> bytes:
        """Inflate one fragment of a compressed message (RFC 7692 §7.2.2).

        ``budget`` is how many more bytes the message may inflate to; past it the
        message is refused with 1009 before more memory is spent (a deflate bomb).
        """
        if final:
            data += _SYNC_TAIL
        try:
            inflated = self._inflater.decompress(data, budget + 1)
        except zlib.error as error:
            raise ProtocolError("invalid compressed data") from error
        if len(inflated) > budget:
            raise MessageTooBig("message over the limit once decompressed")
        if final and (self._reset_inflater or self._inflater.eof):
            # A stream ended with BFINAL cannot take more data: start a new one.
            self._inflater = zlib.decompressobj(-self._inflater_bits)
        return inflated
