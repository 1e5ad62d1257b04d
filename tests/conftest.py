"""Shared fixtures: a clean environment, a local S3, both litestream lines, and a leak check."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import FIGURES, missing, require

from pylts import ConfigS3, runner
from pylts.binary import find_executable
from pylts.testing import LocalS3

LEGACY_BIN_VARIABLE = "PYLTS_TEST_LITESTREAM_03"
_OUR_PREFIXES = ("AWS_", "LITESTREAM_", "REPLICA_", "DB_", "PYLTS_")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No stray AWS_*/LITESTREAM_* from the machine, no metadata service, a fresh working directory."""
    for name in list(os.environ):
        if name.startswith(_OUR_PREFIXES) and name != LEGACY_BIN_VARIABLE:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.chdir(tmp_path)


def _children() -> list[tuple[int, str, str]]:
    """(pid, command name, state) of every child process of this one, zombies included."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        match = re.match(r"(\d+) \((.*)\) (\S) (\d+)", text)
        if match and int(match.group(4)) == os.getpid():
            found.append((int(match.group(1)), match.group(2), match.group(3)))
    return found


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Every test must stop and reap every process it started.

    This process's guard (pylts/guard.py) lives as long as the process, by design; it must
    be left with nothing to guard, and it may not be a zombie (nobody reaped a dead guard).
    """
    if not sys.platform.startswith("linux"):
        yield
        return
    before = {pid for pid, _, _ in _children()}
    yield
    assert not runner.guarded(), f"the guard still watches process groups {runner.guarded()}"
    guard = runner.guard_pid()
    left = [(pid, name, state) for pid, name, state in _children() if pid not in before]
    left = [child for child in left if not (child[0] == guard and child[2] != "Z")]
    assert not left, f"processes left behind (pid, name, state): {left}"


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3]:
    require("moto")
    with LocalS3() as server:
        yield server


@pytest.fixture
def bucket(local_s3: LocalS3, request: pytest.FixtureRequest) -> str:
    """A fresh bucket on a freshly reset server, named after the test."""
    local_s3.reset()
    name = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:50].strip("-") or "bucket"
    local_s3.create_bucket(name)
    return name


@pytest.fixture(params=["0.5", "0.3"])
def litestream_bin(request: pytest.FixtureRequest) -> Path:
    """The litestream executable of each supported line."""
    if request.param == "0.5":
        return find_executable()
    legacy = Path(os.environ.get(LEGACY_BIN_VARIABLE, ""))
    if not legacy.name or not legacy.is_file():
        missing(f"litestream 0.3.13 not found: set {LEGACY_BIN_VARIABLE} (python3 tasks.py test does)")
    return legacy


@pytest.fixture
def cfg(local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path) -> ConfigS3:
    """Settings for app.db in a fresh bucket on the local S3, for the litestream line under test."""
    return local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin)


@pytest.fixture(scope="session", autouse=True)
def drill_figures() -> Iterator[None]:
    """With PYLTS_DRILL_FIGURES set (``python3 tasks.py drills``), write the figures the drills recorded there."""
    yield
    target = os.environ.get("PYLTS_DRILL_FIGURES")
    if target and FIGURES:
        rows = ["| drill | litestream | figures |", "| --- | --- | --- |"]
        in_order = sorted(FIGURES, key=lambda figure: (int(figure[0].split(".")[0]), figure))  # 2 before 10
        rows += [f"| {drill} | {line} | {text} |" for drill, line, text in in_order]
        Path(target).write_text("\n".join(rows) + "\n")
