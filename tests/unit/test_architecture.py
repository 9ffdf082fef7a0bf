"""The package layout holds: no import cycle between modules, layers as the README says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imports() -> dict[str, set[str]]:
    """Module -> batchlake modules it imports (eager, lazy and type-only), via grimp."""
    import grimp

    graph = grimp.build_graph("batchlake")
    return {
        module: {m for m in graph.find_modules_directly_imported_by(module) if m != "batchlake"}
        for module in graph.modules
        if module != "batchlake"
    }


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert _cycles(_imports()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layers_contract_holds() -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(linter), "--config", str(REPO / "pyproject.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]


def test_the_top_level_listing_is_the_architecture() -> None:
    entries = sorted(
        p.name
        for p in (REPO / "src" / "batchlake").iterdir()
        if p.name not in ("__pycache__", "__init__.py", "__main__.py", "py.typed")
    )
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for entry in entries:
        shown = entry if entry.endswith(".py") else f"{entry}/"
        assert f"| `{shown}` |" in readme, f"{shown} is missing from the README's package table"
    assert len(entries) <= 15
