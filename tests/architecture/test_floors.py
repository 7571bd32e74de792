"""The product's import graph: no cycle anywhere, and imports point down the floors (docs/architecture.md).

Built with `ast` from the source (every import, including imports inside functions and under TYPE_CHECKING), so
a cycle cannot hide behind a function-level import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from app.worker.main import SHARED_TYPES

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "workflows", "activities", "webhooks")
GENERATED = ("app.agent_client.proto", "app.store.migrations")

# Top to bottom. A module may import its own floor's modules and any lower floor's, never a higher floor's.
FLOORS: tuple[tuple[str, ...], ...] = (
    ("app.web", "app.worker", "app.cli", "app.agent_server", "app.sandbox", "app"),
    ("webhooks",),
    ("app.services",),
    ("app.temporal",),
    ("workflows",),
    ("activities",),
    ("app.jobqueue", "app.jira_gateway", "app.forge", "app.agent_client", "app.store"),
    ("app.config",),
    # The dataclasses workflows exchange: every floor speaks them, so they import nothing of ours but each other
    # (which is also what lets the worker pass them through the workflow sandbox).
    SHARED_TYPES,
)
# Nothing below these may import them: they are the entry points and the composition roots.
TOP = ("app.web", "app.worker", "app.cli", "app.agent_server")


def module_name(path: Path) -> str:
    """`app/web/api.py` → `app.web.api`; a package's `__init__.py` is the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    """Every module of the product packages but generated code."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = module_name(path)
            if not name.startswith(GENERATED):
                found[name] = path
    return found


def imports_of(path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The product modules `path` imports, wherever the import statement is."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a.b import c` imports a.b, and a.b.c when c is a module.
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if name in modules:
                yield name


def import_graph() -> dict[str, set[str]]:
    """Module → the product modules it imports."""
    modules = product_modules()
    return {name: set(imports_of(path, modules)) - {name} for name, path in modules.items()}


def floor_of(module: str) -> int:
    """The index of the floor a module is on (the most specific prefix wins)."""
    best, best_len = -1, -1
    for index, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best >= 0, f"{module} is on no floor: add it to FLOORS (and to docs/architecture.md)"
    return best


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_graph_is_read_from_the_source() -> None:
    graph = import_graph()
    assert "app.web.factory" in graph and "app.web.api" in graph["app.web.factory"]
    assert "activities.jira" in graph["workflows.orchestration"]


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle or [])


def test_the_cycle_finder_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_point_down() -> None:
    upward = [
        f"{module} (floor {floor_of(module)}) imports {target} (floor {floor_of(target)})"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if floor_of(target) < floor_of(module)
    ]
    assert upward == [], "\n".join(upward)


def test_nothing_below_imports_the_top_floors() -> None:
    offenders = [
        f"{module} imports {target}"
        for module, targets in sorted(import_graph().items())
        for target in sorted(targets)
        if target.startswith(TOP) and module != "app" and not module.startswith((*TOP, "app.sandbox"))
    ]
    assert offenders == [], "\n".join(offenders)
