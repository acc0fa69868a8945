"""No import cycles between the gateway's modules (edge/, shelf_firmware_bridge/).

Counted: module-level imports and those under ``if TYPE_CHECKING:`` (a type-only cycle still ties two
modules together: edge/app.py and edge/updates.py did). Imports inside functions are the deliberate
way to load heavy, optional parts late and are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("edge", "shelf_firmware_bridge")


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            statements += node.body
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    files = [f for package in PACKAGES for f in (REPO / package).rglob("*.py")]
    names = {_module_name(f): f for f in files}
    return {
        name: {m for m in _top_level_imports(ast.parse(f.read_text())) if m in names and m != name}
        for name, f in names.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_gateway_modules_import_each_other_without_cycles() -> None:
    graph = import_graph()
    assert "edge.updates" in graph["edge.app"]  # the graph sees imports
    assert cycles(graph) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_offer_core_imports_no_adapter() -> None:
    """edge/offers decides; storing decisions is the store's (edge/store/offer_log.py)."""
    graph = import_graph()
    offers = {m: deps for m, deps in graph.items() if m.startswith("edge.offers")}
    assert offers and all(
        not d.startswith(("edge.store", "edge.mqtt", "edge.sync")) for deps in offers.values() for d in deps
    )


def test_no_component_imports_another_components_private_names() -> None:
    """A name starting with ``_`` is its module's own business: models/, simulators/ and backend/ use
    what edge/ (and each other) make public (models/experiments/replay.py used the offer policy's
    private mixture)."""
    components = (*PACKAGES, "models", "simulators", "backend")
    crossings = []
    for component in components:
        for path in (REPO / component).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                    continue
                other = node.module.split(".")[0]
                if other in components and other != component:
                    crossings += [
                        f"{path.relative_to(REPO)}: {node.module}.{alias.name}"
                        for alias in node.names
                        if alias.name.startswith("_") and not alias.name.startswith("__")
                    ]
    assert crossings == []
