"""KnownFiles: files StaticFiles has already checked, kept ready to answer again.

Resolving a request path safely (``realpath`` component by component, the
root check, the open and its re-check) and preparing a file's headers cost far
more than sending a small file. A site serves the same files over and over, so
each file answered is remembered by request path with:

* the real path that was checked and the file's identity (device, inode, size,
  modification time in ns);
* the fields of its 200 response (type, validators, caching);
* for a small file, its bytes (bounded in total), sent without opening it.

A remembered file is served again only when the file at its real path still
has that identity: ``fstat`` after an ``O_NOFOLLOW`` open, or an ``lstat`` for
files held in memory. A changed, replaced or swapped file fails the check and
the request goes through the full resolution again. The same inode at the same
checked path is the file that was checked, so a symlink swapped into the path
later cannot redirect the answer elsewhere.
"""

from __future__ import annotations

import os
import stat as stat_module
import time
from dataclasses import dataclass

from barehttp.protocol.memo import Memo
from barehttp.web.file_response import file_fields, guess_media_type, make_etag, validator_fields

# Remembered files; the table is emptied when full.
MAX_ENTRIES = 1_024
# Files up to this size are kept in memory...
MEMORY_FILE_MAX_BYTES = 262_144
# ...up to this much in all, per StaticFiles.
MEMORY_MAX_BYTES = 33_554_432

Identity = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns
Key = tuple[str, str | None]  # raw request path, mount path parameter


def identity_of(stat: os.stat_result) -> Identity:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True, slots=True)
class KnownFile:
    """A file checked once, and what answering it with 200 takes."""

    real_path: str
    identity: Identity
    media_type: str
    headers: list[tuple[str, str]]  # the 200 response's fields, shared read-only
    body: bytes | None  # the whole file, for small files

    def is_current(self) -> bool:
        """For a file held in memory: is the file on disk still the one we hold?"""
        try:
            stat = os.lstat(self.real_path)
        except OSError:
            return False
        return identity_of(stat) == self.identity and stat_module.S_ISREG(stat.st_mode)

    def open_if_current(self, flags: int) -> tuple[int, os.stat_result] | None:
        """Open the file if it is still the one checked: (descriptor, stat) or None."""
        try:
            fd = os.open(self.real_path, flags)
        except OSError:
            return None
        try:
            stat = os.fstat(fd)
        except OSError:
            os.close(fd)
            return None
        if identity_of(stat) != self.identity or not stat_module.S_ISREG(stat.st_mode):
            os.close(fd)
            return None
        return fd, stat


class KnownFiles:
    """The table of remembered files of one StaticFiles."""

    def __init__(self, cache_control: str | None) -> None:
        self._cache_control = cache_control
        self._files: Memo[Key, KnownFile] = Memo(MAX_ENTRIES)
        self._memory_bytes = 0

    def get(self, key: Key) -> KnownFile | None:
        return self._files.get(key)

    def forget(self, key: Key) -> None:
        self._files.forget(key)

    def remember(
        self, key: Key, fd: int, stat: os.stat_result, real_path: str, name: str
    ) -> KnownFile | None:
        """Remember the open, checked file ``fd`` under ``key``; None if it cannot be."""
        modified = int(stat.st_mtime)
        if modified > time.time():
            return None  # Last-Modified may not be later than Date (RFC 9110 §8.8.2.1)
        media_type = guess_media_type(name)
        validators = validator_fields(make_etag(stat), modified, self._cache_control)
        headers = file_fields(media_type, validators)
        if len(self._files) >= MAX_ENTRIES:
            self._memory_bytes = 0  # the put below empties the memo (and its bodies)
        body = None
        size = stat.st_size
        if size <= MEMORY_FILE_MAX_BYTES and self._memory_bytes + size <= MEMORY_MAX_BYTES:
            body = os.pread(fd, size, 0)
            if len(body) != size:
                return None  # changing under us: do not remember a torn copy
            self._memory_bytes += size
        known = KnownFile(real_path, identity_of(stat), media_type, headers, body)
        return self._files.put(key, known)
