"""cartsim's import graph, read from the source (nothing is imported):

* no cycle among its modules at import time: a cycle makes what works depend on which module is
  imported first, and hiding one behind an import inside a function only moves the failure;
* no module imports another package's private (underscore) module or name: a package is used through
  the names its ``__init__`` exports. A private module of ``cartsim`` itself (``cartsim._simulate``) is
  internal to the whole package, so any of its modules may import it.

Imports inside functions run later and are not edges; imports under ``if TYPE_CHECKING:`` never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"

#: Cross-package private imports allowed, each with its reason. An entry that no longer occurs fails the
#: test too, so the list only shrinks.
KNOWN_PRIVATE: set[tuple[str, str]] = {
    # lab outputs draw with matplotlib, which cartsim.lab (imported by `cartsim --help`) must not load (item 6)
    ("cartsim.web._charts", "cartsim.lab._outputs.group_survival"),
    ("cartsim.web._charts", "cartsim.lab._outputs.median_burden"),
    ("cartsim.web._tasks", "cartsim.lab._outputs.write_mouse"),
    ("cartsim.web._tasks", "cartsim.lab._outputs.write_restim"),
}


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted name -> (file, whether it is a package's ``__init__``)."""
    found = {}
    for path in sorted((SOURCE / "cartsim").rglob("*.py")):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


MODULES = _modules()


def _run_at_import(statements: list[ast.stmt]):
    """The import statements that run when the module is imported."""
    for node in statements:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from _run_at_import(node.orelse)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While, ast.ClassDef)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    yield from _run_at_import(child.body if isinstance(child, ast.ExceptHandler) else [child])


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(module: str, everywhere: bool = False) -> list[tuple[str, str | None]]:
    """(module imported, name taken from it or None) for each import of cartsim run at import time, or with
    ``everywhere`` each one in the file (inside functions too)."""
    path, package = MODULES[module]
    here = module if package else module.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    statements = ([node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))] if everywhere
                  else _run_at_import(tree.body))
    found = []
    for node in statements:
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            base = ".".join(here.split(".")[: len(here.split(".")) - node.level + 1] + ([base] if base else []))
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            found.append((submodule, None) if submodule in MODULES else (base, alias.name))
    return [(target, name) for target, name in found if target.split(".")[0] == "cartsim"]


def _graph() -> dict[str, set[str]]:
    """Module -> the modules its import runs, including the packages Python initialises on the way."""
    graph = {}
    for module in MODULES:
        edges = set()
        for target, name in _imports(module):
            # A package above the importer is already initialising; it is an edge only when a name is read from it.
            edges |= {p for p in _ancestors(target) if p not in _ancestors(module) and p != module}
            if target != module and (name is not None or target not in _ancestors(module)):
                edges.add(target)
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
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
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _private_imports() -> set[tuple[str, str]]:
    """(importer, what) where ``what`` is a private module or name owned by a package outside the importer,
    imported anywhere in the importer (a function-level import is as private as a top-level one)."""
    found = set()
    for module in MODULES:
        for target, name in _imports(module, everywhere=True):
            parts = target.split(".") + ([name] if name else [])
            for i, part in enumerate(parts):
                owner = ".".join(parts[:i])
                private = part.startswith("_") and not part.startswith("__")
                if private and i and not (module == owner or module.startswith(owner + ".")):
                    found.add((module, ".".join(parts)))
                    break
    return found


def test_the_graph_is_read():
    graph = _graph()
    assert {"cartsim", "cartsim.io", "cartsim._simulate", "cartsim.conditions"} <= set(graph)
    assert "cartsim._compiled_cache" in graph["cartsim"] and "cartsim.model" in graph["cartsim.io._scenario"]
    assert "cartsim.io" not in graph["cartsim.product._manufacturing"]  # only under TYPE_CHECKING


def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(cycle) for cycle in cycles)


def test_the_condition_language_is_a_leaf():
    # The schema and the clinical clock both use it; importing either from it would close a circle again.
    assert _graph()["cartsim.conditions"] == set()


def test_no_module_imports_another_packages_private_names():
    found = _private_imports()
    new = sorted(found - KNOWN_PRIVATE)
    assert not new, "import the public name from the package instead:\n" + "\n".join(f"{m}: {w}" for m, w in new)
    gone = sorted(KNOWN_PRIVATE - found)
    assert not gone, "fixed, remove from KNOWN_PRIVATE:\n" + "\n".join(f"{m}: {w}" for m, w in gone)
