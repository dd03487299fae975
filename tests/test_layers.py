"""The core's layers: no import cycle among its modules (function-level imports included), and the core never
imports a plugin or a runner, so data and imports flow one way (runners -> plugins -> core)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_imports(package_dir: Path, package: str) -> dict[str, set[str]]:
    """Each module of `package` -> every module it imports anywhere in its code (top level or in a function)."""
    modules = {}
    for path in package_dir.rglob("*.py"):
        parts = (package, *path.relative_to(package_dir).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    edges = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_the_core_has_no_import_cycle():
    graph = module_imports(ROOT / "fabrec_bench", "fabrec_bench")
    assert len(graph) > 20
    assert cycles(graph) == []


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_imports_no_plugin_and_no_runner():
    graph = module_imports(ROOT / "fabrec_bench", "fabrec_bench")
    upward = {m: sorted(d for d in deps if d.startswith(("fabrec_bench_plugins", "fabrec_bench_runners")))
              for m, deps in graph.items()}
    assert {m: d for m, d in upward.items() if d} == {}


def test_reading_a_builtin_scheme_loads_no_plugin():
    """Checkpoints store a scheme's name: the built-in ones resolve without the plugin registry."""
    import fabrec_bench.plugins as plugins

    plugins.reset_registry()
    assert plugins.scheme_by_name("wflw98").num_points == 98
    assert plugins._registry is None
