"""The HTML page listing a directory's entries, for ``StaticFiles(listing=True)``."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from urllib.parse import quote

from barehttp.protocol.writer import format_http_date

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


@dataclass(frozen=True, slots=True)
class ListedEntry:
    """One row: the name as read from the directory, and its (followed) stat."""

    name: str
    stat: os.stat_result
    is_dir: bool


def human_size(size_bytes: int) -> str:
    """``size_bytes`` in binary units with one decimal: ``512 B``, ``100.0 MiB``."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    value = float(size_bytes)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")  # the loop returns at the last unit


def is_linkable(name: str) -> bool:
    """Whether a request can name this entry: its name on disk must be UTF-8.

    Request paths are decoded as UTF-8 (web.request), so a name holding other
    bytes (``os.listdir`` gives them as surrogates) could be linked but never served.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def render_listing(
    title: str, entries: list[ListedEntry], *, is_root: bool, truncated: bool, unlinkable: int
) -> str:
    """An HTML table of ``entries``: escaped, URL-quoted, directories first with "/".

    Sizes are human-readable, with the exact byte count in the cell's ``title``.
    ``unlinkable`` entries were left out (see `is_linkable`); the page says so.
    """
    ordered = sorted(entries, key=lambda item: (not item.is_dir, item.name.casefold(), item.name))
    escaped_title = html.escape(title)
    rows = [] if is_root else ['<tr><td><a href="../">../</a></td><td></td><td></td></tr>']
    for entry in ordered:
        slash = "/" if entry.is_dir else ""
        href = quote(entry.name, safe="") + slash
        text = html.escape(entry.name) + slash
        if entry.is_dir:
            size = "<td>-</td>"
        else:
            size = f'<td title="{entry.stat.st_size} bytes">{human_size(entry.stat.st_size)}</td>'
        modified = format_http_date(entry.stat.st_mtime)
        rows.append(
            f'<tr><td><a href="{html.escape(href)}">{text}</a></td>{size}<td>{modified}</td></tr>'
        )
    notes = []
    if truncated:
        notes.append(f"only the first {len(entries) + unlinkable} entries")
    if unlinkable:
        notes.append(
            f"{unlinkable} not shown: {'its name is' if unlinkable == 1 else 'their names are'}"
            " not valid UTF-8, which a link cannot name; rename to serve"
        )
    rows += [f'<tr><td colspan="3">({html.escape(note)})</td></tr>' for note in notes]
    body = "\n".join(rows)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>Index of {escaped_title}</title>"
        "<style>body{font-family:sans-serif}td{padding:0 1em 0 0}</style></head>\n"
        f"<body><h1>Index of {escaped_title}</h1>\n"
        "<table>\n"
        "<tr><th>Name</th><th>Size</th><th>Last modified</th></tr>\n"
        f"{body}\n</table></body></html>\n"
    )
