"""Write src/barehttp/app/static/favicon.ico: the logo drawn at 16 and 32 px.

Run once by hand (``python scripts/make_favicon.py``); the output is committed, so
nothing is generated at run time. Each ICO entry holds a PNG image, which every
current browser reads (ICO with PNG payloads: Windows Vista and later).
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "src/barehttp/app/static/favicon.ico"
BLUE = (31, 111, 235, 255)
WHITE = (255, 255, 255, 255)
YELLOW = (255, 209, 102, 255)
CLEAR = (0, 0, 0, 0)
Pixel = tuple[int, int, int, int]


def draw(size: int) -> list[list[Pixel]]:
    """The logo in a 64-unit design space, sampled at each pixel centre."""
    scale = 64 / size
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            u, v = (x + 0.5) * scale, (y + 0.5) * scale
            row.append(_colour(u, v))
        rows.append(row)
    return rows


def _colour(u: float, v: float) -> Pixel:
    # Rounded square from 2 to 62 with corner radius 14: within 14 of the inner box 16..48.
    nearest_u, nearest_v = min(max(u, 16), 48), min(max(v, 16), 48)
    if math.hypot(u - nearest_u, v - nearest_v) > 14:
        return CLEAR
    if math.hypot(u - 48, v - 44) <= 4.5:
        return YELLOW
    stem = 15 <= u <= 21 and 13 <= v <= 51
    bowl = abs(math.hypot(u - 30, v - 35.5) - 10.5) <= 3.2 and u >= 18
    return WHITE if stem or bowl else BLUE


def encode_png(rows: list[list[Pixel]]) -> bytes:
    """A minimal RGBA PNG (PNG spec §11: IHDR, IDAT, IEND)."""
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + b"".join(bytes(pixel) for pixel in row) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def encode_ico(images: list[tuple[int, bytes]]) -> bytes:
    """ICONDIR, one ICONDIRENTRY per image, then the PNG payloads."""
    header = struct.pack("<HHH", 0, 1, len(images))  # reserved, type 1 = icon, count
    offset = len(header) + 16 * len(images)
    entries, payloads = b"", b""
    for size, png in images:
        side = 0 if size >= 256 else size  # 0 means 256 in ICO
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(png), offset)
        payloads += png
        offset += len(png)
    return header + entries + payloads


def main() -> int:
    data = encode_ico([(size, encode_png(draw(size))) for size in (16, 32)])
    OUTPUT.write_bytes(data)
    sys.stdout.write(f"wrote {OUTPUT} ({len(data)} bytes)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
