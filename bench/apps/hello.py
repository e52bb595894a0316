"""The bytes every hello-world app answers with: the same as ``barehttp hello``."""

from __future__ import annotations

BODY = b"Hello, World!"
CONTENT_TYPE = "text/plain; charset=utf-8"  # as barehttp sends it
