"""No import cycles in src/barehttp: no module imports one that imports it back.

Like tests/test_layers.py, every module is parsed with ``ast`` (nothing is
imported) and every import counts, including those inside functions and
``if TYPE_CHECKING:`` blocks: a type-only import back is still a circle a reader
has to hold in mind. Cycles of any length are found (strongly connected
components of the import graph).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

from tests.test_layers import all_modules, module_name


def import_graph() -> dict[str, set[str]]:
    """barehttp module -> the barehttp modules it imports (anywhere in its body)."""
    paths = {module_name(path): path for path in all_modules()}
    graph: dict[str, set[str]] = {module: set() for module in paths}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    prefix = package[: len(package) - (node.level - 1)]
                    base = ".".join([*prefix, base] if base else prefix)
                # ``from package import module`` imports that module; otherwise the name
                # is an attribute of the module ``base``.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                    for alias in node.names
                ]
            graph[module].update(target for target in targets if target in paths)
        graph[module].discard(module)
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(found: list[frozenset[str]]) -> str:
    return "\n".join(" <-> ".join(sorted(cycle)) for cycle in found)


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "modules that import each other:\n" + describe(found)


# -- the checker itself ------------------------------------------------------------


def test_finds_a_two_module_circle_and_a_longer_one() -> None:
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": {"a"}}
    assert sorted(map(sorted, cycles(graph))) == [["a", "b"], ["c", "d", "e"]]


def test_a_chain_is_not_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_graph_sees_imports_of_submodules_and_type_only_imports() -> None:
    graph = import_graph()
    # from barehttp.protocol import grammar: an edge to the submodule
    assert "barehttp.protocol.grammar" in graph["barehttp.protocol.parser"]
    # every import under ``if TYPE_CHECKING:`` is an edge too
    for path in all_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and inner.module:
                        assert inner.module in graph[module_name(path)]
