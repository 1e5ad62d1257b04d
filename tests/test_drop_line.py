"""Dropping litestream 0.3 is deleting its package, its tests and one registration line: proved on a copy.

The copy of the repository loses `pylts.lines`' 0.3 package (the one registered on the line
marked ``# line 0.3``) and that line; the tests of 0.3 alone carry the ``line03`` marker and are
left out. What remains must pass mypy (strict) and the unit tests plus the core integration tests
on litestream 0.5, with the copy's pylts imported. An import of the 0.3 package anywhere else
breaks both.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parent.parent
#: What a checkout holds that is not source: environments, caches, build output.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".cache", ".*_cache", "__pycache__", "*.egg-info", "site", ".coverage*", "htmlcov"
)
#: The registration of the 0.3 line in `pylts.lines.LINES`: its package's name, marked.
REGISTRATION = re.compile(r'^\s*"(?P<package>\w+)",\s*# line 0\.3$', re.MULTILINE)
#: What must still pass: every unit test, then the core integration tests (on litestream 0.5, the line left).
UNIT = ["tests", "-m", "not line03 and not integration and not slow"]
CORE = ["tests/test_integration.py", "tests/test_lines.py", "-m", "not line03 and not serial"]


def without_line_03(copy: Path) -> Path:
    """``copy``: the repository with litestream 0.3's package and registration removed; returns that package."""
    shutil.copytree(ROOT, copy, ignore=NOT_SOURCE)
    registry = copy / "pylts" / "lines" / "__init__.py"
    text = registry.read_text()
    (found,) = REGISTRATION.finditer(text)  # exactly one registration line
    package = copy / "pylts" / "lines" / found["package"]
    assert package.is_dir(), f"the 0.3 line registers {found['package']}, which is not a package of pylts.lines"
    shutil.rmtree(package)
    registry.write_text(text.replace(found[0] + "\n", ""))
    return package


def run(copy: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python ARGV`` in ``copy`` with this environment's python, the copy's pylts first on the path."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("COVERAGE", "PYTEST_"))}
    env["PYTHONPATH"] = str(copy)
    return subprocess.run(
        [sys.executable, *argv], cwd=copy, env=env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.mark.long
def test_the_rest_stands_without_litestream_03(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    package = without_line_03(copy)
    imported = run(
        copy, "-c", "import pylts, pylts.lines; print(pylts.__file__); print(sorted(pylts.lines.registered()))"
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines() == [str(copy / "pylts" / "__init__.py"), "['0.5']"]
    assert not package.exists()
    typed = run(copy, "-m", "mypy")
    assert typed.returncode == 0, typed.stdout + typed.stderr
    for selection, least in ((UNIT, 300), (CORE, 20)):
        tested = run(copy, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", *selection)
        assert tested.returncode == 0, tested.stdout[-6000:] + tested.stderr[-2000:]
        passed = re.search(r"\b(\d+) passed", tested.stdout)
        assert passed and int(passed[1]) >= least, f"too few tests ran: {tested.stdout[-500:]}"
