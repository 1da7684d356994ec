"""The tree keeps its shape: no import circles and imports that point down the layers.

Every module under twin/ and cli.py is parsed (nothing is imported), and every import counts, the
ones inside functions too: a circle hidden in a function is still a circle. docs/architecture.md
states the same rules in words.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The foundation: twin's top-level modules. Everything may import them; they import no twin package.
FOUNDATION = "foundation"
LOWER = {FOUNDATION, "media", "db", "llm", "session"}
# Which layers a layer may import (its own always included): imports point down only. A new package
# must be placed here (test_every_package_has_a_place_in_the_layers).
MAY_IMPORT: dict[str, set[str]] = {
    FOUNDATION: {FOUNDATION},
    "media": {FOUNDATION, "media"},
    "db": {FOUNDATION, "db"},
    "llm": {FOUNDATION, "llm"},
    "session": {FOUNDATION, "media", "session"},
    "voice": {FOUNDATION, "media", "session", "voice"},
    "persona": LOWER | {"persona"},
    "engine": LOWER | {"voice", "persona", "engine"},
    "service": LOWER | {"voice", "persona", "engine", "service"},
    "cli": LOWER | {"voice", "persona", "engine", "service", "cli"},
    "entry": LOWER | {"voice", "persona", "engine", "service", "cli"},
}
# Third-party packages only some layers may touch.
ONLY_IN: dict[str, set[str]] = {"typer": {"cli", "entry"}, "rich": {"cli"}}


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for twin/** (migrations aside: Alembic loads them) and cli.py."""
    found = {"cli": root / "cli.py"}
    for path in sorted((root / "twin").rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if "migrations" in parts:
            continue
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """(dotted name, line) of every import anywhere in the tree; `from a import b` yields a and a.b."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            yield base, node.lineno
            yield from ((f"{base}.{alias.name}", node.lineno) for alias in node.names)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
    return ".".join([*package, *([node.module] if node.module else [])])


def import_graph(files: Mapping[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> twin modules it imports, module -> top-level third-party names it imports)."""
    graph: dict[str, set[str]] = {}
    outside: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names = list(imported_names(tree, module, path.name == "__init__.py"))
        graph[module] = {_owner(name, files) for name, _ in names if _owner(name, files)} - {module}
        outside[module] = {name.split(".")[0] for name, _ in names if name.split(".")[0] not in ("twin", "cli")}
    return graph, outside


def _owner(name: str, files: Mapping[str, Path]) -> str:
    """The twin module a dotted import name lands in ('' for anything else): twin.db.store.Store -> twin.db.store."""
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name if name != "twin" else ""


def layer(module: str) -> str:
    """cli.py is the entry; twin and twin.X (a module) are the foundation; twin.X.* is the layer X."""
    parts = module.split(".")
    if module == "cli":
        return "entry"
    if len(parts) == 1 or len(parts) == 2 and not (ROOT / "twin" / parts[1]).is_dir():
        return FOUNDATION
    return parts[1]


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layering_breaks(graph: Mapping[str, set[str]], outside: Mapping[str, set[str]]) -> list[str]:
    """Every import that points up a layer, and every typer/rich import outside the CLI."""
    breaks = [f"{m} ({layer(m)}) imports {t} ({layer(t)})" for m, targets in graph.items()
              for t in sorted(targets) if layer(t) not in MAY_IMPORT.get(layer(m), set())]
    breaks += [f"{m} ({layer(m)}) imports {package}"
               for m, names in outside.items() for package, allowed in ONLY_IN.items()
               if package in names and layer(m) not in allowed]
    return breaks


GRAPH, OUTSIDE = import_graph(module_files(ROOT))


def test_every_package_has_a_place_in_the_layers():
    assert sorted({layer(m) for m in GRAPH} - set(MAY_IMPORT)) == []


def test_the_graph_sees_the_layers_and_function_level_imports():
    assert {layer(m) for m in GRAPH} >= {FOUNDATION, "db", "llm", "session", "voice", "persona", "engine", "service",
                                         "cli", "entry"}
    # cli/steering imports the review engine only inside a command function
    assert "twin.engine.review" in GRAPH["twin.cli.steering"]
    assert {"typer", "sqlalchemy"} <= OUTSIDE["cli"] | OUTSIDE["twin.cli.base"] | OUTSIDE["twin.db.store"]


def test_no_import_circles():
    assert cycles(GRAPH) == []


def test_imports_point_down_the_layers():
    assert layering_breaks(GRAPH, OUTSIDE) == []


def test_modules_are_found_statically():
    """The graph is complete only if no module under twin/ imports by a computed name.

    The one exception is the CLI's lazy command table (twin/cli/base.py): it loads twin/cli command
    modules by name, which sit at the top of the layers, so nothing below can be reached that way."""
    from twin.cli.base import COMMANDS

    files = module_files(ROOT)
    dynamic = [m for m, path in files.items() if m not in ("cli", "twin.cli.base")
               and any(isinstance(n, ast.Attribute) and n.attr == "import_module" or
                       isinstance(n, ast.Name) and n.id == "__import__"
                       for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))]
    assert dynamic == []
    assert {f"twin.cli.{module}" for module, _ in COMMANDS.values()} <= set(files)


@pytest.mark.parametrize(("graph", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set(), "c": {"b"}}, []),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
])
def test_cycle_finder(graph, expected):
    assert sorted(cycles(graph)) == expected


def test_a_bad_import_is_caught(tmp_path):
    """The checks fail on the tree they guard when one import points the wrong way."""
    files = module_files(ROOT)
    bad = dict(files)
    bad["twin.db.store"] = tmp_path / "store.py"
    bad["twin.db.store"].write_text(files["twin.db.store"].read_text(encoding="utf-8")
                                    + "\n\ndef _late() -> None:\n    from twin.cli.render.status import status_view\n"
                                    + "    import rich\n")
    graph, outside = import_graph(bad)
    assert "twin.db.store (db) imports twin.cli.render.status (cli)" in layering_breaks(graph, outside)
    assert "twin.db.store (db) imports rich" in layering_breaks(graph, outside)
    assert any("twin.db.store" in circle for circle in cycles(graph))  # render -> ... -> store -> render


def test_every_data_file_under_twin_ships_in_the_package():
    """A file twin reads at run time (guard corpus, migration template) must be in the wheel, not only in git."""
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["twin"]
    shipped = {path for pattern in globs for path in (ROOT / "twin").glob(pattern)}
    data = {path for path in (ROOT / "twin").rglob("*") if path.is_file() and path.suffix not in (".py", ".pyc")}
    assert sorted(str(p.relative_to(ROOT)) for p in data - shipped) == []
