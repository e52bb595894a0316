"""Path safety for StaticFiles: what a request may name, and opening it inside a root.

The rules are listed in ``web/static.py``'s docstring: a path is percent-decoded
once, one segment at a time; ``.``, ``..``, empty segments, backslashes, NUL,
drive letters and (unless shown) dotfiles are refused; a file is opened only if
its real path lies under the root, with ``O_NOFOLLOW``, and the opened descriptor
is checked again. Every refusal is ``NotFound`` (or ``BadRequest`` for bytes that
are not a path at all), so nothing tells a prober which names exist.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from barehttp.protocol.errors import BadRequest
from barehttp.web.errors import NotFound

logger = logging.getLogger("barehttp.web")

# O_NOFOLLOW: the last component must not be a symlink (one swapped in after the
# realpath check). O_NONBLOCK: opening a FIFO in the tree must not hang a worker.
OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_MALFORMED_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")  # RFC 3986 §2.1: "%" HEXDIG HEXDIG
_DRIVE_LETTER = re.compile(r"[A-Za-z]:")


@dataclass(frozen=True, slots=True)
class Opened:
    """A file or directory opened inside the root: its descriptor, stat and real path."""

    fd: int
    stat: os.stat_result
    real_path: str


def requested_names(
    raw_path: str, suffix: str | None, *, show_dotfiles: bool
) -> tuple[list[str], bool]:
    """The decoded segments below the root, and whether the path ends with "/".

    ``suffix`` is the router's ``path`` parameter (None: the whole path is ours).

    Raises:
        BadRequest: malformed percent-encoding or non-UTF-8 bytes.
        NotFound: any segment the module docstring lists as refused.
    """
    if not raw_path.startswith("/"):
        raise NotFound()
    if _MALFORMED_ESCAPE.search(raw_path):
        raise BadRequest("malformed percent-encoding in path")
    segments = [decode_segment(segment) for segment in raw_path.split("/")[1:]]
    # The router matched on the decoded path; with no slash inside any segment,
    # its "path" parameter is exactly the last segments of ours.
    count = len(segments) if suffix is None else suffix.count("/") + 1
    if count > len(segments):
        raise NotFound()
    segments = segments[len(segments) - count :]
    if suffix is not None and "/".join(segments) != suffix:
        raise NotFound()  # a route whose parameter does not end on a segment boundary
    wants_directory = segments[-1] == ""
    names = segments[:-1] if wants_directory else segments
    for name in names:
        if not name or name in (".", ".."):
            raise NotFound()
        if name.startswith(".") and not show_dotfiles:
            raise NotFound()
    if names and _DRIVE_LETTER.match(names[0]):
        raise NotFound()  # "C:..." names another drive's root on Windows
    return names, wants_directory


def decode_segment(segment: str) -> str:
    """One path segment, percent-decoded once; refuses what could leave the segment.

    Raises:
        NotFound: a slash, backslash or NUL, raw or encoded.
        BadRequest: bytes that are not UTF-8 (including overlong forms like ``%c0%ae``).
    """
    # latin-1 recovers the bytes the parser decoded; see RequestHead.target.
    data = unquote_to_bytes(segment.encode("latin-1"))
    if b"/" in data or b"\\" in data or b"\x00" in data:
        raise NotFound()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("request path is not valid UTF-8") from None


def open_inside(root: str, path: str, *, show_dotfiles: bool) -> Opened:
    """Open ``path`` if it resolves inside ``root`` (a real path); see the module docstring.

    Raises:
        NotFound: outside the root, missing, unreadable, or swapped mid-check.
    """
    real_path = os.path.realpath(path)
    if not is_servable(root, real_path, show_dotfiles=show_dotfiles):
        raise NotFound()
    try:
        fd = os.open(real_path, OPEN_FLAGS)
    except OSError:  # missing, EACCES, ELOOP (a symlink swapped in), ENXIO (socket)
        raise NotFound() from None
    try:
        stat = os.fstat(fd)
        if not is_open_file_inside(root, fd, real_path, stat):
            logger.warning("file under %s changed while being opened", root)
            raise NotFound()
    except BaseException:
        os.close(fd)
        raise
    return Opened(fd, stat, real_path)


def is_servable(root: str, real_path: str, *, show_dotfiles: bool) -> bool:
    """Inside the root, and not hidden there (a symlink may lead into ".git")."""
    if not is_inside(root, real_path):
        return False
    if show_dotfiles:
        return True
    below_root = real_path[len(root) :].split(os.sep)
    return not any(part.startswith(".") for part in below_root)


def is_inside(root: str, real_path: str) -> bool:
    try:
        return os.path.commonpath([root, real_path]) == root
    except ValueError:  # different drives (Windows)
        return False


def is_open_file_inside(root: str, fd: int, real_path: str, stat: os.stat_result) -> bool:
    """Re-check, after the open, that the descriptor is the file that was checked."""
    try:
        # Linux: the kernel's own path for what was actually opened.
        return is_inside(root, os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        pass
    # Elsewhere: resolve again and compare identities (device and inode).
    again = os.path.realpath(real_path)
    try:
        current = os.stat(again)
    except OSError:
        return False
    same_file = (current.st_dev, current.st_ino) == (stat.st_dev, stat.st_ino)
    return same_file and is_inside(root, again)
