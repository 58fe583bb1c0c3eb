"""The package's import graph: no cycle anywhere, the store below the studies, every module importable alone.

The graph is read from the source with ``ast``: an edge ``a -> b`` for every ``import b`` and
``from b import x`` in module ``a`` (``from b import x`` goes to the module ``b.x`` when ``x`` is a
submodule). Two graphs: *module-level* imports (what runs when ``a`` is imported; imports under
``if TYPE_CHECKING:`` never run and are left out) and *all* imports, function-local ones included
(what runs when ``a``'s functions are called). The import of a module's parent packages that Python
does implicitly first is not an edge (it is what lets ``pkg/__init__.py`` import its own modules);
an explicit ``from pkg import name`` in a module of ``pkg`` is.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

import sparsernn

SRC = Path(sparsernn.__file__).parent
PACKAGE = "sparsernn"


def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    names = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module, *, local: bool) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of a module: module-level ones, or (``local``) all of them."""
    found = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # never executed
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append(child)
            inner = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if local or not inner:
                visit(child, top and not inner)

    visit(tree, True)
    return found


def _targets(statement: ast.Import | ast.ImportFrom, name: str, modules: dict[str, Path]) -> list[str]:
    if isinstance(statement, ast.Import):
        return [alias.name for alias in statement.names]
    base = statement.module or ""
    if statement.level:  # relative import
        is_package = modules[name].name == "__init__.py"
        parent = name.split(".")[: len(name.split(".")) - statement.level + (1 if is_package else 0)]
        base = ".".join([*parent, *([base] if base else [])])
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in statement.names]


def import_graph(*, local: bool = False) -> nx.DiGraph:
    """Edges between the package's own modules (see the module docstring)."""
    modules = module_names()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for statement in _imports(tree, local=local):
            for target in _targets(statement, name, modules):
                while target and target not in modules and target.startswith(f"{PACKAGE}."):
                    target = target.rsplit(".", 1)[0]  # "from pkg.mod import name" of a name
                if target in modules and target != name:
                    graph.add_edge(name, target)
    return graph


def _cycles(graph: nx.DiGraph) -> list[list[str]]:
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_the_graph_sees_module_level_and_local_imports():
    top, full = import_graph(), import_graph(local=True)
    assert top.has_edge("sparsernn.studies.runner", "sparsernn.studies.registry")
    assert top.has_edge("sparsernn.studies", "sparsernn.studies.sweep")  # a package's own modules
    assert not top.has_edge("sparsernn.studies.config", "sparsernn.studies")  # the implicit parent
    assert not top.has_edge("sparsernn.studies.sweep", "sparsernn.studies.ray_backend")  # local only
    assert full.has_edge("sparsernn.studies.sweep", "sparsernn.studies.ray_backend")
    assert set(top.edges) <= set(full.edges)


def test_the_cycle_check_finds_a_cycle():
    graph = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")])
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_at_module_level():
    assert _cycles(import_graph()) == []


def test_no_import_cycle_even_through_function_local_imports():
    assert _cycles(import_graph(local=True)) == []


def test_the_store_imports_nothing_from_the_studies():
    graph = import_graph(local=True)
    store = [m for m in graph if m == "sparsernn.results" or m.startswith("sparsernn.results.")]
    reached = set().union(*(nx.descendants(graph, m) for m in store))
    assert sorted(m for m in reached if m.startswith("sparsernn.studies")) == []


def test_protocols_import_neither_the_registry_nor_a_report():
    graph = import_graph(local=True)
    for module in graph:
        if module.startswith("sparsernn.studies.protocols"):
            reached = nx.descendants(graph, module)
            assert "sparsernn.studies.registry" not in reached, module
            assert not any(m.startswith("sparsernn.studies.reports") for m in reached), module


# Importing ``pkg.mod`` first imports ``pkg``; when that already loads ``pkg.mod``, importing ``pkg.mod``
# alone is importing ``pkg`` alone (done just before: names are sorted), so it is not repeated.
IMPORT_EACH_ALONE = """
import importlib, sys
failed, loaded_by = [], {}
for name in sys.argv[1:]:
    parent = name.rpartition(".")[0]
    if name in loaded_by.get(parent, ()):
        continue
    for loaded in [m for m in sys.modules if m == "sparsernn" or m.startswith("sparsernn.")]:
        del sys.modules[loaded]  # a fresh start for the package (third-party modules stay loaded)
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{name}: {type(error).__name__}: {error}")
    loaded_by[name] = {m for m in sys.modules if m.startswith(name + ".")}
print("\\n".join(failed))
"""


def test_every_module_imports_alone_in_a_fresh_interpreter():
    names = sorted(module_names())
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH_ALONE, *names], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""


def test_the_fresh_import_check_reports_a_module_that_fails():
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH_ALONE, "sparsernn", "sparsernn.no_such_module"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip().startswith("sparsernn.no_such_module: ModuleNotFoundError")
