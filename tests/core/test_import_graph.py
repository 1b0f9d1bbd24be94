"""skysift's modules and packages import each other top to bottom: nothing reaches, through its
imports (at the top or inside functions), back to itself."""

from __future__ import annotations

import ast
from pathlib import Path

import skysift

SRC = Path(skysift.__file__).resolve().parent


def import_graph() -> dict[str, set[str]]:
    """{module: skysift modules it imports anywhere in its text}."""
    modules: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        parts = ("skysift", *path.relative_to(SRC).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module in modules:
                    graph[name].add(node.module)
                graph[name].update(f"{node.module}.{a.name}" for a in node.names
                                   if f"{node.module}.{a.name}" in modules)
            elif isinstance(node, ast.Import):
                graph[name].update(a.name for a in node.names if a.name in modules)
        graph[name].discard(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph[v]):
            if state.get(w) == 1:
                return [*path[path.index(w):], w]
            if w not in state and (found := visit(w)):
                return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_itself_back():
    graph = import_graph()
    # the graph sees imports in functions
    assert "skysift.filters.batch" in graph["skysift.pipeline"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph between skysift's packages and top-level modules (``skysift.store``,
    ``skysift.pipeline``...): an edge where any module of one imports any module of the other."""

    def unit(module: str) -> str:
        return ".".join(module.split(".")[:2])

    out: dict[str, set[str]] = {unit(m): set() for m in graph if m != "skysift"}
    for module, imported in graph.items():
        if module == "skysift":  # the package's __init__ re-exports; it is no layer
            continue
        out[unit(module)].update(unit(m) for m in imported if m != "skysift")
    for u, targets in out.items():
        targets.discard(u)
    return out


def test_no_package_imports_itself_back():
    graph = package_graph(import_graph())
    # the layers read top to bottom: ingest -> store -> features -> context -> filters -> deliver
    assert "skysift.store" in graph["skysift.features"]
    assert "skysift.store" in graph["skysift.filters"]
    cycle = find_cycle(graph)
    assert cycle is None, "package import cycle: " + " -> ".join(cycle or [])


def test_package_graph_sees_a_cycle_between_packages():
    graph = package_graph({"skysift.a.x": {"skysift.b.y"}, "skysift.b.y": set(),
                           "skysift.b.z": {"skysift.a.w"}, "skysift.a.w": set()})
    assert find_cycle(graph) == ["skysift.a", "skysift.b", "skysift.a"]
