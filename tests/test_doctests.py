"""The examples in pylts' docstrings are usage docs: run them all, and prove they were found."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import pylts

#: Every module of the package.
MODULES = sorted(m.name for m in pkgutil.walk_packages(pylts.__path__, "pylts."))

#: Names the examples of one docstring may use that another docstring of the module imported.
SHARED_GLOBALS = {
    "pylts.commands": (
        "from pathlib import Path\n"
        "from pylts.binary import Litestream, Version\n"
        "from pylts.replica import parse_replica_url"
    ),
}


#: ``...`` stands for text that varies; a long expected line may wrap (whitespace is compared loosely).
EXAMPLE_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

#: Internal modules whose behaviour is shown by the runnable examples of the ConfigS3 methods they serve
#: (docs/examples.md, run by tests/test_docs.py: they need a store and litestream, too long for a docstring).
SHOWN_THROUGH_CONFIGS3 = {"pylts.backup", "pylts.context", "pylts.restore", "pylts.status", "pylts.verify"}

#: Framework glue whose usage is the code block in its docstring, run under the real framework
#: by tests/test_integrations.py and the recipes (a doctest cannot start a web server).
SHOWN_UNDER_THEIR_FRAMEWORK = {
    "pylts.integrations",
    "pylts.integrations.flask",
    "pylts.integrations.gunicorn",
    "pylts.integrations.django",
    "pylts.integrations.django.apps",
    "pylts.integrations.django.management",
    "pylts.integrations.django.management.commands",
    "pylts.integrations.django.management.commands.pylts",
}

#: The command's entry point and the generated table of its settings options, run by tests/test_cli_life.py.
SHOWN_BY_THE_COMMAND = {"pylts.__main__", "pylts.cli_settings"}


@pytest.fixture(scope="module")
def results() -> dict[str, doctest.TestResults]:
    found = {}
    for name in MODULES:
        module = importlib.import_module(name)
        extra: dict[str, object] = {}
        exec(SHARED_GLOBALS.get(name, ""), extra)
        found[name] = doctest.testmod(module, extraglobs=extra, optionflags=EXAMPLE_FLAGS, report=True)
    return found


def test_every_example_passes(results: dict[str, doctest.TestResults]) -> None:
    failed = {name: r.failed for name, r in results.items() if r.failed}
    assert not failed, f"doctest failures (see captured output): {failed}"


def test_examples_were_actually_collected(results: dict[str, doctest.TestResults]) -> None:
    shown_elsewhere = SHOWN_THROUGH_CONFIGS3 | SHOWN_UNDER_THEIR_FRAMEWORK | SHOWN_BY_THE_COMMAND
    without = [name for name, r in results.items() if r.attempted == 0 and name not in shown_elsewhere]
    assert not without, f"modules with no runnable example: {without}"
    # 136 examples when the long ConfigS3 ones moved to docs/examples.md (from about 190): losing more fails
    assert sum(r.attempted for r in results.values()) >= 130


def own_docstring(obj: object) -> str:
    """The docstring written on ``obj`` itself: ``inspect.getdoc`` would fall back to a parent's."""
    doc = vars(obj).get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return (doc or "").strip()


@pytest.mark.parametrize("name", pylts.__all__)
def test_every_public_name_is_documented(name: str) -> None:
    assert own_docstring(getattr(pylts, name)), f"pylts.{name} has no docstring of its own"


def test_public_methods_of_configs3_have_docstrings() -> None:
    own = [cls for cls in reversed(pylts.ConfigS3.__mro__) if cls.__module__.startswith("pylts.")]  # the mixin too
    members = {n: v for cls in own for n, v in vars(cls).items()}
    public = [n for n, v in members.items() if not n.startswith("_") and (callable(v) or isinstance(v, property))]
    assert {
        "restore",
        "timed_replicate",
        "delete",
        "get_result_on_timeout",
        "dbpath",
        "replicate_args",
        "restore_args",
    } <= set(public)
    assert not [n for n in public if not own_docstring(members[n])]
