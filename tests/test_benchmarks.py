"""The benchmark code runs (in --quick mode), so it cannot rot. Its timings decide nothing here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.long
@pytest.mark.integration
@pytest.mark.slow
def test_quick_benchmark_runs_and_reports_every_section(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    text = report.read_text()
    for section in (
        "One-shot backup and restore",
        "Cold start",
        "Boot with nothing to do",
        "Replication lag under load",
        "Restore and recovery time",
        "Supervision cost: CPU and memory against bare litestream",
        "Requests and cost: an idle database",
        "Targets",
    ):
        assert f"### {section}" in text
    assert "| 1 MB |" in text and "| 10 MB |" in text and "nan" not in text
    for target in ("`pylts --help` start", "`restore()` at 10 MB", "`pylts restore` at 10 MB", "`wait_for_sync()` p99"):
        assert target in text  # checked against its limit in the Targets table, met or missed
    assert "a restore holds the probe (from outside)" in text
    for subject in ("bare `litestream replicate`", "`pylts replicate` (defaults)", "`PYLTS_COST_PROFILE=low`"):
        assert subject in text  # idle requests per minute of each, and the ratios to bare litestream
    assert "Idle requests per minute against bare litestream:" in text
    assert "pylts says about" in text  # what pylts estimates each subject costs, beside what was counted
