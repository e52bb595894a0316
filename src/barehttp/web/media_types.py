"""Media types of common files that Python's built-in table lacks or gets wrong.

``mimetypes`` without the machine's ``/etc/mime.types`` knows about a hundred
suffixes; these are the ones a site commonly serves beyond that. Each is the
IANA-registered type (the RFC is named where there is one), or the type every
browser expects where none is registered (``.mkv``, ``.7z``).
"""

from __future__ import annotations

COMMON_MEDIA_TYPES = {
    # documents and feeds
    ".xhtml": "application/xhtml+xml",  # RFC 3236
    ".xht": "application/xhtml+xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",  # RFC 4287 §7
    ".jsonld": "application/ld+json",
    ".map": "application/json",  # JavaScript and CSS source maps
    ".yaml": "application/yaml",  # RFC 9512
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".ics": "text/calendar",  # RFC 5545
    ".vcf": "text/vcard",  # RFC 6350
    ".srt": "application/x-subrip",
    ".log": "text/plain",
    ".ini": "text/plain",
    ".cfg": "text/plain",
    ".conf": "text/plain",
    ".epub": "application/epub+zip",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    # fonts (RFC 8081)
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".eot": "application/vnd.ms-fontobject",
    # images
    ".apng": "image/apng",
    ".jxl": "image/jxl",
    # audio and video
    ".m4a": "audio/mp4",  # RFC 4337
    ".ogg": "audio/ogg",  # RFC 5334
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",  # RFC 7845 §9: Opus in an Ogg file
    ".flac": "audio/flac",
    ".weba": "audio/webm",
    ".wav": "audio/wav",
    ".m4v": "video/mp4",
    ".ogv": "video/ogg",
    ".mkv": "video/x-matroska",
    # archives and packages
    ".7z": "application/x-7z-compressed",
    ".rar": "application/vnd.rar",
    ".zst": "application/zstd",  # RFC 8878
    ".jar": "application/java-archive",
    ".apk": "application/vnd.android.package-archive",
    ".deb": "application/vnd.debian.binary-package",
    ".rpm": "application/x-rpm",
    ".iso": "application/x-iso9660-image",
}

# XML and text-like types beyond text/* that get "; charset=utf-8".
XML_CHARSET_TYPES = frozenset(
    {"application/xhtml+xml", "application/rss+xml", "application/atom+xml"}
)
