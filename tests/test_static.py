"""The code passes its static checks: mypy --strict, ruff's lint rules and ruff's format (pyproject.toml)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import missing

ROOT = Path(__file__).resolve().parent.parent

CHECKS = {
    "mypy --strict": ["mypy"],
    "ruff check": ["ruff", "check", "."],
    "ruff format --check": ["ruff", "format", "--check", "."],
}


@pytest.mark.parametrize("check", CHECKS)
def test_static_check_is_clean(check: str) -> None:
    module, *args = CHECKS[check]
    if importlib.util.find_spec(module) is None:
        missing(f"{module} is not installed (pip install -e '.[dev]')")
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
