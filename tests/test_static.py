"""The suite's own rules, and the documented calls type-checked as a user's project would check them.

mypy --strict, ruff check and ruff format --check run as the lint stage of `python3 tasks.py test`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import require

ROOT = Path(__file__).resolve().parent.parent

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


#: What the README and docs tell users to write, to be type-checked the way a user's project would check it.
USERS_CODE = """
from pylts import ConfigS3

cfg = ConfigS3(key="k", token="t", s3="s3://backups/app.db", folder="/srv/app", db="app.db")
renamed = ConfigS3(access_key_id="k", secret_access_key="t", replica_url="s3://backups/app.db", _env_file=None)
backed_up: bool = cfg.timed_replicate(60, delete=False)
"""


@pytest.mark.parametrize("plugins", ["", "pydantic.mypy"])
def test_the_documented_calls_type_check_in_a_users_project(plugins: str, tmp_path: Path) -> None:
    """Strings for secrets and the `access_key_id=` names are what users write: no type checker may refuse them."""
    require("mypy")
    (tmp_path / "app.py").write_text(USERS_CODE)
    (tmp_path / "mypy.ini").write_text(f"[mypy]\nstrict = true\nplugins = {plugins}\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", "--no-incremental", "app.py"],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
