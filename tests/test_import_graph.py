"""The import graph, read from the source (no imports run): no cycles, nothing imports upward,
and no function hides an upward import from the module's header.

Layers inside `retrieval` go text -> index -> corpus -> answer -> engine: a module may import its
own layer and the ones before it, never a later one (models and errors come before all). Across
packages, retrieval -> news -> measure -> bot, and `retrieval` never imports telegram.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("retrieval", "news", "measure", "bot")
RETRIEVAL_LAYERS = {
    "retrieval.models": 0, "retrieval.errors": 0, "retrieval.defaults": 0, "retrieval.text": 1, "retrieval.index": 2, "retrieval.corpus": 3,
    "retrieval.answer": 4, "retrieval.config": 5, "retrieval.path": 5, "retrieval.engine": 5, "retrieval": 6,
}  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()
TYPING_ONLY: set[tuple[str, str]] = set()  # (module, dep) imported for type checking (never run) ...
RUN: set[tuple[str, str]] = set()  # ... and imported where it runs


def _imports(module: str, path: Path) -> list[tuple[str, bool, int]]:
    """(imported module, at module level outside TYPE_CHECKING, line) for every import."""
    tree = ast.parse(path.read_text("utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for sub in child.body:
                    visit_one(sub, False, typing_only=True)
                for sub in child.orelse:
                    visit_one(sub, top)
                continue
            visit_one(child, top)

    def visit_one(node: ast.AST, top: bool, typing_only: bool = False) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, top and not typing_only, node.lineno))
                (TYPING_ONLY if typing_only else RUN).add((module, alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((sub if sub in MODULES else base, top and not typing_only, node.lineno))
                (TYPING_ONLY if typing_only else RUN).add((module, sub if sub in MODULES else base))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            visit(node, top and isinstance(node, ast.ClassDef))
        else:
            visit(node, top)

    visit(tree, True)
    return found


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _layer(module: str) -> int:
    best = max((k for k in RETRIEVAL_LAYERS if module == k or module.startswith(k + ".")), key=len)
    return RETRIEVAL_LAYERS[best]


def test_the_graph_was_read() -> None:
    assert "retrieval.answer.pipeline" in MODULES and "bot.telegram.state" in MODULES
    assert any(dep == "retrieval.index.store" for dep, _, _ in GRAPH["retrieval.answer.pipeline"])


def test_retrieval_imports_no_front_end_and_no_tool() -> None:
    bad = [
        f"{m}:{line} imports {dep}"
        for m, deps in GRAPH.items() if m.split(".")[0] == "retrieval"
        for dep, _, line in deps if dep.split(".")[0] in ("bot", "news", "measure", "telegram")
    ]  # fmt: skip
    assert bad == []


def test_packages_import_only_downward() -> None:
    order = {p: i for i, p in enumerate(PACKAGES)}
    bad = [
        f"{m}:{line} imports {dep}"
        for m, deps in GRAPH.items()
        for dep, _, line in deps
        if dep.split(".")[0] in order and order[dep.split(".")[0]] > order[m.split(".")[0]]
    ]
    assert bad == []


@pytest.mark.parametrize("lazy", [False, True], ids=["header", "inside functions"])
def test_retrieval_layers_import_only_downward(lazy: bool) -> None:
    """A module imports its own layer and earlier ones; a function-level import obeys the same
    rule (a lazy import is for start-up time, never to hide an upward dependency)."""
    bad = [
        f"{m}:{line} imports {dep}"
        for m, deps in GRAPH.items() if m.split(".")[0] == "retrieval"
        for dep, top, line in deps
        if dep.split(".")[0] == "retrieval" and top != lazy and _layer(dep) > _layer(m)
    ]  # fmt: skip
    assert bad == []


def test_no_import_cycles() -> None:
    """Module-level imports (outside TYPE_CHECKING) form no cycle; a package's `__init__` that
    only re-exports (retrieval/__init__.py) is left out, as Python loads it before any submodule."""
    edges = {
        m: sorted({dep for dep, top, _ in deps if top and dep in MODULES and dep not in PACKAGES and dep != m})
        for m, deps in GRAPH.items() if m not in PACKAGES
    }  # fmt: skip
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for dep in edges.get(m, []):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                walk(dep)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            walk(m)
    assert cycles == []


def test_no_import_cycles_through_lazy_imports_either() -> None:
    """A lazy import (inside a function, for start-up time) may not close a circle either: the
    front ends' modules each do one job, and one leaning on another that leans back is a seam
    in the wrong place. Imports under TYPE_CHECKING never run, so they close no circle."""
    scope = PACKAGES
    edges = {
        m: {
            dep for dep, _, _ in deps
            if dep in MODULES and dep not in PACKAGES and dep != m and ((m, dep) in RUN or (m, dep) not in TYPING_ONLY)
        }
        for m, deps in GRAPH.items() if m not in PACKAGES and m.split(".")[0] in scope
    }  # fmt: skip
    cycles: list[str] = []
    done: set[str] = set()

    def walk(m: str, stack: list[str]) -> None:
        for dep in sorted(edges.get(m, ())):
            if dep in stack:
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in done and dep in edges:
                walk(dep, [*stack, dep])
        done.add(m)

    for m in sorted(edges):
        if m not in done:
            walk(m, [m])
    assert cycles == []
