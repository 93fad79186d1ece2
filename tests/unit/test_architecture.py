"""The layers of the house: which package may import which, with no cycle among them.

Read from the source with `ast` (imports inside functions count too), so a new import
that crosses a layer fails here before it becomes a tangle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Each package and the packages of ours it may import (the README's "Layout" says the same).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "vocabulary": frozenset(),
    "playbooks": frozenset({"vocabulary"}),
    "responders": frozenset({"vocabulary", "playbooks"}),
    "streams": frozenset({"vocabulary", "playbooks", "responders"}),
    "sources": frozenset({"vocabulary"}),
    "dashboards": frozenset({"vocabulary", "playbooks", "streams"}),
    "tools": frozenset({"vocabulary", "playbooks", "streams"}),
    "lookout": frozenset({"vocabulary", "playbooks", "responders"}),
    "noroshi": frozenset({"vocabulary", "playbooks", "responders", "streams", "sources", "dashboards", "tools",
                          "lookout"}),
}


def imports_of(package: str) -> Iterator[tuple[str, str]]:
    """(module path, imported package of ours) for every import in `package`."""
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in MAY_IMPORT and top != package:
                    yield str(path.relative_to(ROOT)), top


def graph() -> dict[str, set[str]]:
    return {package: {target for _, target in imports_of(package)} for package in MAY_IMPORT}


def test_every_package_imports_only_the_layers_below_it() -> None:
    crossings = [f"{where} imports {target}" for package in MAY_IMPORT
                 for where, target in imports_of(package) if target not in MAY_IMPORT[package]]
    assert not crossings, "imports across the layers:\n" + "\n".join(crossings)


def test_the_packages_import_each_other_without_a_cycle() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(package: str, path: tuple[str, ...]) -> None:
        assert package not in path, "import cycle: " + " → ".join((*path, package))
        if package in done:
            return
        for target in sorted(edges[package]):
            visit(target, (*path, package))
        done.add(package)

    for package in MAY_IMPORT:
        visit(package, ())


def test_the_vocabulary_imports_nothing_of_ours_and_the_composition_root_is_imported_by_none() -> None:
    edges = graph()
    assert edges["vocabulary"] == set()
    assert [p for p, targets in edges.items() if "noroshi" in targets] == []


def test_the_allowed_layers_themselves_have_no_cycle() -> None:
    """The table above is a partial order: so a new permission cannot sneak a cycle in."""
    order: list[str] = []
    remaining = {p: set(allowed) for p, allowed in MAY_IMPORT.items()}
    while remaining:
        ready = sorted(p for p, allowed in remaining.items() if allowed <= set(order))
        assert ready, f"the table allows a cycle among {sorted(remaining)}"
        order += ready
        for p in ready:
            del remaining[p]
    assert order[0] == "vocabulary" and order[-1] == "noroshi"


#: The house's sizes (measured with `ast` over every package of the product).
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 700, 80
DATA_MODULES = frozenset({"dashboards/i18n.py"})  # the two languages' words: data, not code


def sizes() -> Iterator[tuple[str, str, int]]:
    """(path, what, lines) for every module, and every function, of the product."""
    for package in MAY_IMPORT:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            where = str(path.relative_to(ROOT))
            yield where, "", len(text.splitlines())
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield where, node.name, (node.end_lineno or node.lineno) - node.lineno + 1


def test_no_module_over_700_lines_and_no_function_over_80() -> None:
    found = list(sizes())
    assert len([f for f in found if not f[1]]) > 100  # every package was read
    big_modules = [(path, n) for path, what, n in found
                   if not what and n > MAX_MODULE_LINES and path not in DATA_MODULES]
    long_functions = [(path, what, n) for path, what, n in found if what and n > MAX_FUNCTION_LINES]
    assert big_modules == [], "split these modules along their sections"
    assert long_functions == [], "split these functions"
