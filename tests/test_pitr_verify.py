"""Point-in-time restore and verify, with the real litestream and moto."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from helpers import derive, read_rows, write_rows

from pylts import ConfigS3, InvalidArgument, NoBackupFound, PyltsError, UnsupportedLitestreamVersion
from pylts.testing import LocalS3

pytestmark = pytest.mark.integration


def two_moments(cfg: ConfigS3) -> datetime:
    """Under continuous replication: 10 rows, a moment, 10 more rows; returns the moment between."""
    write_rows(cfg.dbpath, 10)
    with cfg.replicating() as replication:
        assert replication.wait_for_sync(30)
        time.sleep(1.1)  # litestream dates its files to the second
        between = datetime.now(timezone.utc)
        time.sleep(1.1)
        write_rows(cfg.dbpath, 10, start=10)
        assert replication.wait_for_sync(30)
    return between


def test_restore_as_of_a_timestamp(cfg: ConfigS3, tmp_path: Path) -> None:
    between = two_moments(cfg)
    copy = derive(cfg, folder=tmp_path / "copy")
    copy.restore(timestamp=between)
    assert len(read_rows(copy.dbpath)) == 10
    copy.restore(timestamp=between.isoformat(), overwrite=True)
    assert len(read_rows(copy.dbpath)) == 10
    copy.restore(overwrite=True)
    assert len(read_rows(copy.dbpath)) == 20


def test_restore_as_of_a_txid(cfg: ConfigS3, tmp_path: Path) -> None:
    if not cfg.plan().line.has_txids:
        with pytest.raises(UnsupportedLitestreamVersion, match="restoring to a txid needs the transaction ids of"):
            cfg.restore(txid=1)
        return
    write_rows(cfg.dbpath, 10)
    assert cfg.timed_replicate(30, delete=False)
    first = max(f.max_txid_number for f in cfg.replica_contents().ltx_files)
    write_rows(cfg.dbpath, 10, start=10)
    assert cfg.timed_replicate(30, delete=False)
    copy = derive(cfg, folder=tmp_path / "copy")
    copy.restore(txid=first)
    assert len(read_rows(copy.dbpath)) == 10


def test_a_time_before_the_first_backup(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 1)
    assert cfg.timed_replicate(30, delete=False)
    copy = derive(cfg, folder=tmp_path / "copy")
    with pytest.raises(NoBackupFound, match="before the first backup"):
        copy.restore(timestamp="2001-01-01T00:00:00Z")
    assert not copy.folder.exists() or not [p for p in copy.folder.iterdir() if not p.name.endswith("-pylts.yml")]


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"timestamp": "2026-01-01T00:00:00"}, "has no time zone"),
        ({"timestamp": datetime(2026, 1, 1)}, "has no time zone"),
        ({"timestamp": datetime.now(timezone.utc) + timedelta(days=1)}, "in the future"),
        ({"timestamp": "yesterday"}, "is not RFC 3339"),
        ({"txid": "not-hex"}, "is not a transaction id"),
        ({"txid": 0}, "between 1 and"),
        ({"txid": 1, "timestamp": "2026-01-01T00:00:00Z"}, "not both"),
    ],
)
def test_bad_points_in_time_change_nothing(cfg: ConfigS3, point: dict[str, Any], message: str) -> None:
    error: type[PyltsError] = InvalidArgument
    if not cfg.plan().line.has_txids and list(point) == ["txid"]:
        error, message = UnsupportedLitestreamVersion, "needs the transaction ids of .* restore to a timestamp"
    write_rows(cfg.dbpath, 1)
    before = sorted(p.name for p in cfg.folder.iterdir())
    with pytest.raises(error, match=message):
        cfg.restore(overwrite=True, **point)
    assert sorted(p.name for p in cfg.folder.iterdir()) == before


def tables(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


def test_verify_while_replicating(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 20)
    with cfg.replicating():
        listing = sorted(p.name for p in cfg.folder.iterdir())
        result = cfg.verify(timeout=30)
        assert result.status == "ok", result.detail
        assert result.lag_seconds is not None and result.lag_seconds >= 0
        assert sorted(p.name for p in cfg.folder.iterdir()) == listing, "verify leaves no file behind"
    assert "_pylts_verify" not in tables(cfg.dbpath)
    assert len(read_rows(cfg.dbpath)) == 20


def test_verify_keeps_a_sentinel_table_it_did_not_create(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 1)
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE _pylts_verify (token TEXT PRIMARY KEY, written_at REAL NOT NULL)")
    assert cfg.verify(sync=True, timeout=30).ok
    with closing(sqlite3.connect(cfg.dbpath)) as conn:
        assert conn.execute("SELECT count(*) FROM _pylts_verify").fetchone() == (0,)


def test_verify_without_replication_is_lagging(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 1)
    assert cfg.timed_replicate(30, delete=False)
    result = cfg.verify(timeout=3)
    assert result.status == "lagging" and "is replication running" in result.detail


def test_verify_whose_deadline_ends_inside_a_litestream_run_is_lagging(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 1)
    assert cfg.timed_replicate(30, delete=False)
    for seconds in (0.02, 0.05, 0.1, 0.3):  # the deadline lands inside the listing or the restore
        result = cfg.verify(timeout=seconds)
        assert result.status == "lagging", f"{seconds} s: {result}"


def test_verify_fails_when_the_replica_is_unreachable(cfg: ConfigS3, local_s3: LocalS3) -> None:
    write_rows(cfg.dbpath, 1)
    local_s3.stop()
    try:
        started = time.monotonic()
        result = cfg.verify(timeout=10, sync=True)
    finally:
        local_s3.start()
    assert result.status == "failed" and "EndpointUnreachable" in result.detail
    assert time.monotonic() - started < 10
    assert "_pylts_verify" not in tables(cfg.dbpath)
