"""The layers hold: the core (``models/``) imports nothing from the shell (``pipeline/``), and
the shell's modules import each other without cycles. Read from the source (ast), so a lazy
import inside a function counts for the core too."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, *, top_level_only: bool, modules: set[str] = frozenset()) -> set[str]:
    """Modules ``path`` imports (absolute names; relative imports resolved): ``from a.b import
    c`` is an import of ``a.b.c`` when that is one of ``modules``, else of ``a.b``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, *([base] if base else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                names.add(sub if sub in modules else base)
    return names


def test_the_core_imports_nothing_from_the_shell() -> None:
    offenders = {}
    for path in sorted((REPO / "models").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        found = sorted(
            n for n in imported(path, top_level_only=False) if n.split(".")[0] == "pipeline"
        )
        if found:
            offenders[rel] = found
    assert not offenders, offenders


def test_the_shell_has_no_import_cycles() -> None:
    modules = {module_name(p): p for p in (REPO / "pipeline").rglob("*.py")}
    names = set(modules)
    graph = {
        name: {
            m
            for m in imported(path, top_level_only=True, modules=names)
            if m in modules and m != name
        }
        for name, path in modules.items()
    }
    cycles = set()
    for a, targets in graph.items():
        for b in targets:
            if a in reachable(graph, b):
                cycles.add(tuple(sorted((a, b))))
    assert not cycles, f"import cycles (module pairs on a cycle): {sorted(cycles)}"


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen
