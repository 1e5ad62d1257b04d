"""The house's rules, checked on the source: imports flow one way, chains stay short, the settings stay small.

Every import counts, including those under ``TYPE_CHECKING`` and those inside functions: a cycle that only
the type checker sees still ties two modules together for a reader. docs/architecture.md draws the layers.
"""

from __future__ import annotations

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "pylts"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """The pylts modules that module ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            origin = ".".join([*base, node.module] if node.module else base)
            # `from . import errors` imports the module pylts.errors; `from .errors import X` imports pylts.errors
            candidates = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in MODULES else origin for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in MODULES:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                found.add(candidate)
    return found


GRAPH = {name: imported(name, path) for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while (member := stack.pop()) != node:
                group.append(member)
            if group:
                found.append(sorted([node, *group]))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest path of imports in an acyclic ``graph``, as module names from importer to imported."""

    @functools.cache
    def from_(node: str) -> tuple[str, ...]:
        below: list[tuple[str, ...]] = [from_(other) for other in sorted(graph[node])]
        return (node, *max(below, key=len, default=()))

    chains: list[tuple[str, ...]] = [from_(node) for node in sorted(graph)]
    longest = max(chains, key=len)
    return list(longest)


def test_the_graph_reader_sees_cycles_and_chains() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert longest_chain({"a": {"b", "d"}, "b": {"c"}, "c": set(), "d": set()}) == ["a", "b", "c"]


def test_the_graph_reader_follows_relative_imports() -> None:
    assert {"pylts.binary", "pylts.boot"} <= GRAPH["pylts.config"]  # `from . import binary`, `from .boot import`
    assert {"pylts.lines", "pylts.integrations"} <= set(MODULES)


#: docs/architecture.md's layers, bottom first. A module imports only modules of its own layer or below; a new
#: module must be placed here, so its place in the house is a decision, not an accident.
LAYERS = {
    "ground": "errors timing replica store layout reports sqlite_files binary providers envfile progress output"
    " runner guard continuity health tuning alerts boot_report versions _version deadline failures",
    "observation": "events",
    "seam": "lines lines.base observers",
    "plan": "context commands",
    "lines": "",  # every module of a line package (pylts.lines.v05...), so dropping or adding a line edits nothing here
    "operations": "boot restore backup verify migrate pitr status supervisor follow vfs points doctor"
    " secondary monitor metrics status_page",
    "settings": "settings settings_base settings_docs config databases encryption cost secondary_settings alerting",
    "faces": "__main__ cli cli_parser cli_settings cli_log points_text"
    " integrations integrations.asgi integrations.flask integrations.gunicorn"
    " integrations.django integrations.django.apps integrations.django.management"
    " integrations.django.management.commands integrations.django.management.commands.pylts pytest_plugin testing",
}
LAYER_OF = {f"pylts.{name}": rank for rank, names in enumerate(LAYERS.values()) for name in names.split()}
LAYER_OF["pylts"] = len(LAYERS) - 1  # the package's __init__ is the public face
LAYER_OF.update({name: list(LAYERS).index("lines") for name in MODULES if re.match(r"pylts\.lines\.v\d", name)})


def test_every_module_has_a_layer() -> None:
    assert sorted(set(MODULES) - set(LAYER_OF)) == []
    assert sorted(set(LAYER_OF) - set(MODULES)) == [], "a module that no longer exists is still placed"


def test_imports_flow_down_the_layers() -> None:
    names = list(LAYERS)
    upward = [
        f"{module} ({names[LAYER_OF[module]]}) imports {other} ({names[LAYER_OF[other]]})"
        for module, others in GRAPH.items()
        for other in sorted(others)
        if LAYER_OF.get(other, 0) > LAYER_OF.get(module, 0)
    ]
    assert not upward, upward


def test_no_module_imports_one_that_imports_it_back() -> None:
    found = cycles(GRAPH)
    assert not found, found


#: The longest chain, from ``python -m pylts`` down to errors.py (docs/architecture.md, "Where it stands").
LONGEST_CHAIN = 8


def test_the_longest_import_chain_does_not_grow() -> None:
    assert cycles(GRAPH) == [], "a chain is only measured in an acyclic graph"
    chain = longest_chain(GRAPH)
    assert len(chain) <= LONGEST_CHAIN, " -> ".join(chain)


def test_settings_hold_settings_and_validation_only() -> None:
    lines = (PACKAGE / "settings.py").read_text(encoding="utf-8").count("\n")
    assert lines <= 350, f"pylts/settings.py has {lines} lines: operations belong in their own modules"


def test_tests_never_ask_which_litestream_line_they_run_on() -> None:
    """A test takes the line from its fixture and asks it for a capability, so dropping a line deletes tests only."""
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "tests").glob("*.py"))
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"line\.name\b", text)
    ]
    assert not offenders, offenders


def test_the_package_imports_each_public_name_at_first_use_from_the_module_it_names_for_the_type_checker() -> None:
    """``pylts/__init__.py`` names each name's module twice, under ``TYPE_CHECKING`` and in ``_HOMES``: they agree."""
    import pylts

    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    checked = next(node for node in tree.body if isinstance(node, ast.If))  # `if TYPE_CHECKING:`
    typed = {
        alias.name: node.module for node in checked.body if isinstance(node, ast.ImportFrom) for alias in node.names
    }
    assert typed == pylts._HOMES
    assert set(pylts._HOMES) <= set(pylts.__all__)
    assert all(getattr(pylts, name).__name__ == name for name in pylts.__all__)


def test_importing_the_package_loads_only_its_errors_and_version() -> None:
    """``import pylts`` (and so every ``pylts.x`` import, and the ``pylts`` command) loads no module it does not use."""
    code = "import sys, pylts; print(' '.join(sorted(m for m in sys.modules if m.startswith('pylts'))))"
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert loaded == ["pylts", "pylts._version", "pylts.errors"]
