"""The code passes its static checks: mypy --strict, ruff's lint rules and ruff's format (pyproject.toml)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import require

ROOT = Path(__file__).resolve().parent.parent

CHECKS = {
    "mypy --strict": ["mypy"],
    "ruff check": ["ruff", "check", "."],
    "ruff format --check": ["ruff", "format", "--check", "."],
}


@pytest.mark.parametrize("check", CHECKS)
def test_static_check_is_clean(check: str) -> None:
    module, *args = CHECKS[check]
    require(module)
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


#: Ways around the suite's rules: skips that would pass silently in CI, and copies that skip the validators.
FORBIDDEN_IN_TESTS = {
    r"pytest\.importorskip\(|pytest\.skip\(": "skip through helpers.missing() or helpers.require(), which fail in CI",
    r"\.model_copy\(": "model_copy skips the validators: use helpers.derive() or local_s3.config()",
}


@pytest.mark.parametrize("pattern", FORBIDDEN_IN_TESTS)
def test_tests_do_not_go_around_the_rules(pattern: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "tests").glob("*.py"))
        if path.name != "helpers.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line)
    ]
    assert not offenders, f"{FORBIDDEN_IN_TESTS[pattern]}: {offenders}"
