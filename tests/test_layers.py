"""Layering: each package under src/barehttp imports only from the layers below it.

Every module is parsed with ``ast`` (nothing is imported), and every import is
checked, including those inside functions and ``if TYPE_CHECKING:`` blocks: a
lazy or type-only upward import is still an upward dependency.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE_ROOT = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "barehttp"
ANY_LAYER = "*"

# layer -> the barehttp layers it may import (itself always included).
ALLOWED_LAYERS: dict[str, frozenset[str]] = {
    "protocol": frozenset(),
    "server": frozenset({"protocol"}),
    "web": frozenset({"protocol", "server"}),
    "storage": frozenset(),
    "app": frozenset({"web", "storage", "protocol", "server"}),
    "wsgi": frozenset({"protocol", "server"}),
    "asgi": frozenset({"protocol", "server"}),
    "cli": frozenset({ANY_LAYER}),
    "cli_help": frozenset(),  # argparse helpers of cli, stdlib only
    "cli_commands": frozenset({ANY_LAYER}),  # what each command of cli does
    "cli_limits": frozenset({"protocol", "config"}),  # cli's limit options, from one table
    "config": frozenset({ANY_LAYER}),  # the command line's option plumbing
    "__main__": frozenset({ANY_LAYER}),
}
# Optional extras: third-party packages that only these modules may import, and only
# because the extra is asked for (`pip install 'barehttp[postgres]'`). Every other
# module reaches them through these, lazily, so barehttp runs without them.
OPTIONAL_EXTRAS: dict[str, str] = {
    "psycopg": "barehttp.storage.postgres",
    "psycopg_pool": "barehttp.storage.postgres",
}
# The protocol layer is pure: bytes in, events out, no I/O, no threads, no clock.
PROTOCOL_FORBIDDEN_STDLIB = frozenset(
    {
        "socket",
        "ssl",
        "selectors",
        "select",
        "asyncio",
        "threading",
        "_thread",
        "multiprocessing",
        "concurrent",
        "subprocess",
        "time",
    }
)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. barehttp.server.connection
    path: Path
    line: int
    target: str  # the absolute module imported, e.g. barehttp.protocol.parser


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of ``from .{level} {name} import ...`` inside ``module``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


def find_imports(path: Path) -> list[Import]:
    module = module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(module, path, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            found.append(Import(module, path, node.lineno, base))
            if base == PACKAGE:  # from barehttp import web: the submodule is the target
                found.extend(
                    Import(module, path, node.lineno, f"{PACKAGE}.{alias.name}")
                    for alias in node.names
                    if (SOURCE_ROOT / PACKAGE / alias.name).is_dir()
                    or (SOURCE_ROOT / PACKAGE / f"{alias.name}.py").is_file()
                )
    return found


def layer_of(module: str) -> str | None:
    """The layer a barehttp module belongs to; None for the root package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def all_modules() -> list[Path]:
    return sorted((SOURCE_ROOT / PACKAGE).rglob("*.py"))


def describe(found: Import) -> str:
    return f"{found.path.relative_to(SOURCE_ROOT)}:{found.line} imports {found.target}"


def check_import(found: Import) -> str | None:
    """A description of what is wrong with this import, or None."""
    top = found.target.split(".")[0]
    source_layer = layer_of(found.module)
    if top != PACKAGE:
        if top in OPTIONAL_EXTRAS and found.module.startswith(OPTIONAL_EXTRAS[top]):
            return None
        if top not in sys.stdlib_module_names and top != "__future__":
            return f"{describe(found)}: not in the standard library (stdlib only at run time)"
        if source_layer == "protocol" and top in PROTOCOL_FORBIDDEN_STDLIB:
            return f"{describe(found)}: the protocol layer does no I/O, threading or timing"
        return None
    target_layer = layer_of(found.target)
    if target_layer is None:
        return None  # the root package only holds __version__
    if source_layer is None:
        return f"{describe(found)}: the root package must not import its layers"
    if source_layer not in ALLOWED_LAYERS:
        return f"{describe(found)}: layer {source_layer!r} is missing from ALLOWED_LAYERS"
    allowed = ALLOWED_LAYERS[source_layer]
    if target_layer == source_layer or ANY_LAYER in allowed or target_layer in allowed:
        return None
    return (
        f"{describe(found)}: {source_layer} may import only "
        f"{', '.join(sorted(allowed)) or 'the standard library'}"
    )


def test_every_layer_exists() -> None:
    layers = {layer_of(module_name(path)) for path in all_modules()}
    assert {"protocol", "server", "web", "cli"} <= layers


def test_every_package_has_a_declared_layer() -> None:
    layers = {layer_of(module_name(path)) for path in all_modules()} - {None}
    assert layers <= set(ALLOWED_LAYERS), f"add {layers - set(ALLOWED_LAYERS)} to ALLOWED_LAYERS"


@pytest.mark.parametrize(
    "path", all_modules(), ids=lambda path: str(path.relative_to(SOURCE_ROOT / PACKAGE))
)
def test_no_upward_imports(path: Path) -> None:
    problems = [problem for found in find_imports(path) if (problem := check_import(found))]
    assert not problems, "\n".join(problems)


# -- the checker itself ------------------------------------------------------------


def make_import(module: str, target: str) -> Import:
    path = SOURCE_ROOT / Path(*module.split(".")).with_suffix(".py")
    return Import(module, path, 1, target)


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("barehttp.protocol.parser", "barehttp.server.connection"),
        ("barehttp.protocol.parser", "socket"),
        ("barehttp.protocol.parser", "time"),
        ("barehttp.protocol.parser", "threading"),
        ("barehttp.server.connection", "barehttp.web.app"),
        ("barehttp.web.app", "barehttp.app.pages"),
        ("barehttp.storage.sqlite", "barehttp.protocol.limits"),
        ("barehttp.wsgi.adapter", "barehttp.web.request"),
        ("barehttp.server.pool", "requests"),
        ("barehttp.storage.sqlite", "psycopg"),
        ("barehttp.app.api", "psycopg_pool"),
    ],
)
def test_checker_rejects(module: str, target: str) -> None:
    assert check_import(make_import(module, target)) is not None


@pytest.mark.parametrize(
    ("module", "target"),
    [
        ("barehttp.protocol.parser", "barehttp.protocol.limits"),
        ("barehttp.protocol.writer", "email.utils"),
        ("barehttp.server.connection", "barehttp.protocol.parser"),
        ("barehttp.web.app", "barehttp.server.serve"),
        ("barehttp.app.pages", "barehttp.storage.base"),
        ("barehttp.cli", "barehttp.app.pages"),
        ("barehttp.cli", "barehttp"),
        ("barehttp.storage.postgres", "psycopg"),
        ("barehttp.storage.postgres_pool", "psycopg_pool"),
    ],
)
def test_checker_accepts(module: str, target: str) -> None:
    assert check_import(make_import(module, target)) is None


def test_relative_imports_are_resolved() -> None:
    assert resolve_relative("barehttp.server.connection", False, 2, "web") == "barehttp.web"
    assert resolve_relative("barehttp.server", True, 1, "pool") == "barehttp.server.pool"
    assert resolve_relative("barehttp.server.pool", False, 1, None) == "barehttp.server"
