"""RSGI hello-world for granian (``granian --interface rsgi hello_rsgi:app``)."""

from __future__ import annotations

from typing import Any

from hello import BODY, CONTENT_TYPE

_HEADERS = [("content-type", CONTENT_TYPE), ("content-length", str(len(BODY)))]


async def app(scope: Any, protocol: Any) -> None:
    """Answer every HTTP request with the hello body (RSGI: ``scope``, ``protocol``)."""
    protocol.response_bytes(200, _HEADERS, BODY)
