"""Byte sizes on the command line: ``1048576``, ``512K``, ``20M``, ``1G``, ``20MB``, ``20MiB``."""

from __future__ import annotations

import argparse
import re

# Binary multiples, as nginx's client_max_body_size reads them: 1M = 1,048,576 bytes.
UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"(\d+)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)


def parse_size(text: str) -> int:
    """A number of bytes from ``text``.

    Raises:
        ValueError: for anything but a whole number with an optional unit.
    """
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a size: {text!r} (a whole number of bytes, or with K, M, G, T)")
    return int(match.group(1)) * UNITS[match.group(2).upper()]


def byte_size(text: str) -> int:
    """An argparse type for sizes."""
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
