"""Restore points and the dry-run restore, judged by real restores of a replica a real run built.

The replica comes from replication with a commit every quarter second, a restart halfway and
snapshots every 10 s, long enough for litestream's 30 s level-1 compaction. What `points()` lists
is then checked by restoring at its earliest and latest points, and each dry-run plan against
the objects the real restore downloads (moto's own request log) and the transaction it reaches.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers import PYLTS_COMMAND, derive, read_rows, settings_env

from pylts import ConfigS3
from pylts.binary import find_executable
from pylts.deadline import Deadline
from pylts.errors import (
    NoBackupFound,
    OutsideRestoreWindow,
    PointsUnavailable,
    PyltsError,
    UnsupportedLitestreamVersion,
)
from pylts.testing import LocalS3

pytestmark = pytest.mark.integration

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LTX_GET = re.compile(r"GET /[^/ ]+/app\.db/([0-9a-f]{4}/[0-9a-f]{16}-[0-9a-f]{16}\.ltx)")


class _Requests(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            self.lines.append(_ANSI.sub("", record.args[0]))


@contextmanager
def downloads() -> Iterator[list[str]]:
    """The LTX files GET from the local S3 (it runs in this process) while the block runs, in order, deduplicated."""
    werkzeug = logging.getLogger("werkzeug")
    handler, level, propagate = _Requests(), werkzeug.level, werkzeug.propagate
    werkzeug.addHandler(handler)
    werkzeug.setLevel(logging.INFO)
    werkzeug.propagate = False  # the request lines are counted here, not printed
    found: list[str] = []
    try:
        yield found
    finally:
        werkzeug.removeHandler(handler)
        werkzeug.setLevel(level)
        werkzeug.propagate = propagate
        for line in handler.lines:
            match = _LTX_GET.search(line)
            if match and match.group(1) not in found:
                found.append(match.group(1))


def _commit(db: Path, i: int) -> float:
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        conn.execute("INSERT INTO items (id, body) VALUES (?, ?)", (i, f"item {i}"))
    return time.time()


def _replicate_a_while(cfg: ConfigS3, seconds: float, start: int, commits: dict[int, float]) -> int:
    """Commit a row every 0.25 s for ``seconds`` under replication; ``commits`` gets each row's commit time."""
    i = start
    with cfg.replicating() as replication:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            commits[i] = _commit(cfg.dbpath, i)
            i += 1
            time.sleep(0.25)
        assert replication.wait_for_sync(30)
    return i


def _folder_state(folder: Path) -> dict[str, tuple[int, int]] | None:
    if not folder.exists():
        return None
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def _at(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _restored_ids(cfg: ConfigS3) -> list[int]:
    return [row[0] for row in read_rows(cfg.dbpath)]


@pytest.mark.slow
@pytest.mark.long
def test_points_and_dry_runs_are_what_real_restores_do(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path
) -> None:
    cfg = local_s3.config(
        bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin, snapshot_interval="10s"
    )
    if not cfg.plan().line.has_txids:  # no transaction ids: refused before anything is read
        with pytest.raises(UnsupportedLitestreamVersion, match="listing restore points needs the transaction ids"):
            cfg.points()
        return
    commits: dict[int, float] = {}
    rows = _replicate_a_while(cfg, 16, 0, commits)  # then a restart: litestream starts again on the same replica
    rows = _replicate_a_while(cfg, 18, rows, commits)

    points = cfg.points()
    levels = {band.level for band in points.bands}
    assert {0, 1, 9} <= levels, points.bands  # each sync, the 30 s compaction, the snapshots
    assert len(points.snapshots) >= 2
    assert points.continuity.proven
    assert points.earliest < points.latest
    level0 = next(band for band in points.bands if band.level == 0)
    assert level0.step_seconds is not None and level0.step_seconds <= 2  # a point at about every sync
    assert points.download_files >= 1 and points.download_bytes > 0

    def restore_as(name: str, **point: object) -> tuple[ConfigS3, list[str], int | None]:
        target = derive(cfg, folder=tmp_path / name)
        before = _folder_state(target.folder)
        plan = target.restore_plan(**point)  # type: ignore[arg-type]
        assert _folder_state(target.folder) == before is None, "a dry run must not create the folder"
        with downloads() as got:
            report = target.restore_report(**point)  # type: ignore[arg-type]
        assert sorted(got) == sorted(plan.keys), (point, plan.keys, got)
        assert report.txid_number == plan.restores_txid, point
        assert sum(f.size for f in plan.files) == plan.bytes
        return target, got, report.txid_number

    # The latest point: every committed row.
    latest_cfg, _, latest_txid = restore_as("latest")
    assert latest_txid == points.latest_txid
    assert _restored_ids(latest_cfg) == list(range(rows))

    # The earliest point: a restore works there, and holds only rows committed before it.
    early_cfg, _, _ = restore_as("earliest", timestamp=points.earliest)
    early_ids = _restored_ids(early_cfg) if _has_items(early_cfg.dbpath) else []
    assert all(commits[i] < points.earliest.timestamp() for i in early_ids)

    # The last moment --timestamp takes: what was committed and synced well before it is there, nothing after.
    last_cfg, _, _ = restore_as("last-timestamp", timestamp=points.latest)
    last_ids = _restored_ids(last_cfg)
    assert all(commits[i] < points.latest.timestamp() for i in last_ids)
    assert set(range(rows)) - set(last_ids) <= {i for i, at in commits.items() if at > points.latest.timestamp() - 3}

    # A moment in the middle, and a transaction id, each planned exactly.
    middle = points.earliest + (points.latest - points.earliest) / 2
    mid_cfg, _, _ = restore_as("middle", timestamp=middle)
    assert all(commits[i] < middle.timestamp() for i in _restored_ids(mid_cfg))
    restore_as("txid", txid=points.latest_txid - 3)

    # Outside the window: the plan refuses, naming the window, and litestream refuses too.
    for outside in (points.earliest - timedelta(seconds=30), points.latest + timedelta(seconds=2)):
        target = derive(cfg, folder=tmp_path / "outside")
        with pytest.raises(OutsideRestoreWindow, match="restores timestamps from"):
            target.restore_plan(timestamp=outside)
        with pytest.raises(PyltsError):
            target.restore(timestamp=outside)
        assert not target.dbpath.exists()
    with pytest.raises(OutsideRestoreWindow, match="not a restore point"):
        cfg.restore_plan(txid=points.latest_txid + 5)

    # The command line: points as text and JSON, and a dry run that leaves the database and its folder alone.
    env = settings_env(cfg)
    shown = subprocess.run([PYLTS_COMMAND, "points"], env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert f"earliest point  {_at(points.earliest)}" in shown.stdout
    as_json = subprocess.run([PYLTS_COMMAND, "points", "--json"], env=env, capture_output=True, text=True, timeout=60)
    parsed = json.loads(as_json.stdout)
    assert parsed["latest_txid"] == points.latest_txid
    assert datetime.fromisoformat(parsed["earliest"].replace("Z", "+00:00")) == points.earliest
    before = _folder_state(cfg.folder)
    dry = subprocess.run(
        [PYLTS_COMMAND, "restore", "--dry-run", "--timestamp", _at(middle)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    assert "nothing was downloaded or written" in dry.stdout
    assert _folder_state(cfg.folder) == before
    early = _at(points.earliest - timedelta(seconds=30))
    refused = subprocess.run(
        [PYLTS_COMMAND, "restore", "--dry-run", "--timestamp", early], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2, refused
    assert "before the earliest restore point" in refused.stderr
    assert _folder_state(cfg.folder) == before


def _has_items(db: Path) -> bool:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'items'").fetchone() is not None


def test_points_are_refused_without_txids(cfg: ConfigS3, local_s3: LocalS3, bucket: str) -> None:
    """A replica holding litestream 0.3's generations alone has no transaction ids to list points by."""
    local_s3._client().put_object(Bucket=bucket, Key="app.db/generations/3ce165c988a8804f/snapshots/0.lz4", Body=b"x")
    line = cfg.plan().line
    expected: type[PyltsError] = PointsUnavailable if line.has_txids else UnsupportedLitestreamVersion
    with pytest.raises(expected, match="transaction ids"):
        cfg.points()
    with pytest.raises(expected, match="transaction ids"):
        cfg.restore_plan()


def test_an_empty_replica_has_no_points(cfg: ConfigS3) -> None:
    expected: type[PyltsError] = NoBackupFound if cfg.plan().line.has_txids else UnsupportedLitestreamVersion
    with pytest.raises(expected):
        cfg.points()
    with pytest.raises(expected):
        cfg.restore_plan(txid=1)
    assert not cfg.folder.exists()


def test_the_window_the_metrics_show_is_the_window_points_list_and_a_dry_run_accepts_both_ends(
    local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """The replica check (behind the metrics and the status page), `pylts points` and the dry run share one window:
    its earliest and latest are accepted by ``restore --dry-run --timestamp``, and litestream restores as of them."""
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=find_executable())
    rows = _replicate_a_while(cfg, 4, 0, {})
    rows = _replicate_a_while(cfg, 4, rows, {})  # a restart: files of two runs
    ctx = cfg.plan()
    check = ctx.line.check_replica(ctx, Deadline(30))
    assert check.problem is None and check.earliest is not None and check.latest is not None, check
    points = cfg.points()
    assert (check.earliest, check.latest) == (points.earliest, points.latest)
    for moment in (check.earliest, check.latest):
        plan = cfg.restore_plan(timestamp=moment)
        at = derive(cfg, folder=tmp_path / f"at-{moment.timestamp():.3f}")
        at.restore(timestamp=moment)
        restored = _restored_ids(at) if _has_items(at.dbpath) else []  # the earliest may precede the first row
        assert restored == list(range(len(restored))), (moment, plan)  # a prefix of the commits, no hole
    assert 0 < len(_restored_ids(at)) <= rows  # the latest: the rows of every file written before it
