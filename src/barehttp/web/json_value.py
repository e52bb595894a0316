"""Type aliases for JSON documents, shared by requests and responses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeAlias

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None
"""What ``json.loads`` can return."""

JSONInput: TypeAlias = (
    bool | int | float | str | Sequence["JSONInput"] | Mapping[str, "JSONInput"] | None
)
"""What a response may serialise: read-only (covariant) containers, so ``dict[str, int]`` fits."""
