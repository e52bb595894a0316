"""wsgi.file_wrapper: lets an application hand over a file for zero-copy sending."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO


class FileWrapper:
    """PEP 3333 §"Optional Platform-Specific File Handling".

    Iterating reads blocks (the portable fallback); the adapter recognises the
    wrapper and sends a real file with ``os.sendfile`` instead.
    """

    def __init__(self, filelike: BinaryIO, blksize: int = 65_536) -> None:
        self.filelike = filelike
        self.blksize = blksize

    def __iter__(self) -> Iterator[bytes]:
        while data := self.filelike.read(self.blksize):
            yield data

    def close(self) -> None:
        close = getattr(self.filelike, "close", None)
        if close is not None:
            close()
