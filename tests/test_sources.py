"""The environment and a ``.env`` file give settings by one rule, through pydantic-settings' public API only."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Any

import pydantic_settings
import pytest

import pylts
from pylts import ConfigS3
from pylts.databases import DatabaseList

REQUIRED = {
    "LITESTREAM_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "LITESTREAM_SECRET_ACCESS_KEY": "s3cr3t-value",
    "REPLICA_URL": "s3://backups/app.db",
}
#: (variable, value, what is read): the same for the process environment and for a .env file.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("DB_SQLITE", "app.db", {"db": "app.db"}),
    ("db_sqlite", "app.db", {"db": "app.db"}),  # any case
    ("DB", "other.db", {"db": "db.sqlite"}),  # a field's own name is not a variable of pylts
    ("DB_SQLITE", "", {"db": "db.sqlite"}),  # empty is unset
    ("PYLTS_BOOT_POLICY", "adopt", {"boot_policy": "adopt"}),
    ("PYLTS_DATABASES", '["a.db", "b.db=s3://backups/b.db"]', {"entries": ["a.db", "b.db=s3://backups/b.db"]}),
    ("PYLTS_DATABASES", "a.db, b.db", {"entries": ["a.db", "b.db"]}),
    ("PYLTS_DATABASES", "[a.db", {"entries": ["[a.db"]}),  # not JSON: the text
    ("DATABASES", "x.db", {"entries": []}),
]


def read(source: str, variable: str, value: str, monkeypatch: pytest.MonkeyPatch) -> tuple[ConfigS3, DatabaseList]:
    given = {**REQUIRED, variable: value}
    if source == "environment":
        for name, text in given.items():
            monkeypatch.setenv(name, text)
    else:
        Path(".env").write_text("".join(f"{name}='{text}'\n" for name, text in given.items()))
    return ConfigS3(), DatabaseList()


@pytest.mark.parametrize("source", ["environment", ".env"])
@pytest.mark.parametrize(("variable", "value", "expected"), CASES)
def test_one_rule_for_the_environment_and_the_env_file(
    source: str, variable: str, value: str, expected: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, databases = read(source, variable, value, monkeypatch)
    got = {
        "db": cfg.db,
        "boot_policy": cfg.boot_policy.value,
        "entries": databases.entries,
    }
    assert {name: got[name] for name in expected} == expected


def _private_members() -> set[str]:
    """The private names (``_x``, not dunders) pydantic-settings' own classes define."""
    names = set()
    for exported in map(lambda name: getattr(pydantic_settings, name), pydantic_settings.__all__):
        for base in inspect.getmro(exported) if inspect.isclass(exported) else ():
            if base.__module__.startswith("pydantic_settings"):
                names |= {n for n in vars(base) if n.startswith("_") and not n.startswith("__")}
    return names


def test_pylts_uses_only_the_public_api_of_pydantic_settings() -> None:
    private = _private_members()
    assert "_settings_build_values" in private  # the check sees the private names it guards against
    for path in Path(pylts.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pydantic_settings"):
                assert node.module == "pydantic_settings", f"{path}: imports from {node.module}"
                assert {alias.name for alias in node.names} <= set(pydantic_settings.__all__), path
            if isinstance(node, ast.Import):
                assert not any(alias.name.startswith("pydantic_settings.") for alias in node.names), path
            used = node.attr if isinstance(node, ast.Attribute) else getattr(node, "name", None)
            assert used not in private, f"{path}:{getattr(node, 'lineno', '?')}: {used} is pydantic-settings' own"
