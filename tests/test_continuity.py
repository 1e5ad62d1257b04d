"""The replica's own files decide whether it can give the data back: gaps and wipes found, reported, healed.

The integration tests plant the faults deterministically in a live replica on rclone's S3
gateway (a second S3 implementation, and the one the data-loss drills use), with the real
litestream 0.5.17, then judge by a restore of every acknowledged row.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from helpers import derive, pylts_log, read_rows, write_rows
from rclone_s3 import RcloneS3

from benchmarks.harness import writer
from pylts import ConfigS3
from pylts.cli import EXIT_FAILURE, main
from pylts.continuity import Gap, prove
from pylts.errors import BackupNotConfirmed, InvalidSettings
from pylts.health import Failing
from pylts.layout import LtxFile

LOAD = "INSERT INTO items (id, body) VALUES (?, 'under load')"


def ltx(level: int, low: int, high: int) -> LtxFile:
    now = datetime(2026, 12, 4, tzinfo=timezone.utc)
    return LtxFile(level=level, min_txid=f"{low:016x}", max_txid=f"{high:016x}", size=1, timestamp=now)


def test_a_chain_from_the_snapshot_through_every_level_is_proven() -> None:
    proof = prove([ltx(9, 1, 1), ltx(2, 1, 40), ltx(1, 41, 70), ltx(0, 60, 60), ltx(0, 71, 71), ltx(0, 72, 75)])
    assert (proof.proven, proof.unbroken, proof.head, proof.snapshot, proof.gaps) == (True, 75, 75, 1, [])


def test_every_gap_is_named_and_the_chain_stops_at_the_first() -> None:
    proof = prove([ltx(9, 1, 10), ltx(0, 11, 11), ltx(0, 13, 13), ltx(0, 14, 14), ltx(0, 20, 21)])
    assert proof.gaps == [Gap(after=11, before=13), Gap(after=14, before=20)]
    assert (proof.unbroken, proof.head, proof.proven) == (11, 21, False)
    assert "transactions 12 to 12, 15 to 19 are missing" in proof.summary()


def test_a_newer_snapshot_heals_an_older_gap_and_no_snapshot_must_start_at_one() -> None:
    assert prove([ltx(9, 1, 1), ltx(0, 2, 2), ltx(0, 4, 4), ltx(9, 1, 4), ltx(0, 5, 5)]).proven
    wiped = prove([ltx(0, 30, 30), ltx(0, 31, 31)])
    assert (wiped.gaps, wiped.unbroken, wiped.snapshot) == ([Gap(after=0, before=30)], 0, None)
    assert prove([ltx(0, 1, 1), ltx(0, 2, 3)]).proven
    assert not prove([]).proven


@pytest.mark.parametrize(
    ("given", "seconds"), [("off", 0.0), ("0", 0.0), (0, 0.0), ("90s", 90.0), ("2m", 120.0), (None, None)]
)
def test_the_replica_check_interval_setting(given: object, seconds: float | None) -> None:
    cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", replica_check_interval=given, _env_file=None)
    interval = cfg.replica_check_interval
    assert (None if interval is None else interval.total_seconds()) == seconds


@pytest.mark.parametrize("given", ["100ms", "soon", "-5"])
def test_a_replica_check_interval_that_cannot_be_is_refused(given: str) -> None:
    with pytest.raises(InvalidSettings, match="replica_check_interval"):
        ConfigS3.load(key="k", token="t", s3="s3://bkt/app.db", replica_check_interval=given, _env_file=None)


# -- the real binary, a real S3 server ---------------------------------------------------------------


def _files(server: RcloneS3, bucket: str) -> list[tuple[int, int, int, str]]:
    """(level, min, max, key) of every LTX file in the bucket."""
    found = []
    for key in server.keys(bucket):
        level, name = key.split("/")[-2:]
        low, high = name.removesuffix(".ltx").split("-")
        found.append((int(level, 16), int(low, 16), int(high, 16), key))
    return sorted(found)


def _plant_gap(server: RcloneS3, bucket: str, which: str) -> int:
    """Delete one level-0 file no higher level covers (the middle one, or the newest); return its txid."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        files = _files(server, bucket)
        covered = max((high for level, _, high, _ in files if 0 < level < 9), default=0)
        fresh = [(low, key) for level, low, _, key in files if level == 0 and low > covered]
        if len(fresh) >= 5:
            txid, key = fresh[len(fresh) // 2] if which == "middle" else fresh[-1]
            server._client().delete_object(Bucket=bucket, Key=key)
            return txid
        time.sleep(0.5)
    raise AssertionError("litestream never wrote five level-0 files past its compactions")


def _restored(cfg: ConfigS3, folder: Path) -> set[int]:
    copy = derive(cfg, folder=folder)
    copy.restore(timeout=60)
    return {row[0] for row in read_rows(copy.dbpath)}


class Seen:
    """What pylts logged about the replica, and what health() and status() said at the moment it found the fault."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.healed: list[str] = []
        self.health: list[Any] = []
        self.in_sync: list[bool] = []
        self.replication: Any = None
        self.found_event = threading.Event()
        self.healed_event = threading.Event()

    def __call__(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno == logging.WARNING and "writing a fresh snapshot of the database to heal it" in message:
            self.found.append(message)
            if self.replication is not None:  # logged once the fault is recorded, before the heal begins
                self.health.append(self.replication.health()[0])
                self.in_sync.append(self.replication.status().in_sync)
            self.found_event.set()
        if record.levelno == logging.INFO and "was healed with a fresh snapshot" in message:
            self.healed.append(message)
            self.healed_event.set()


@pytest.fixture
def rclone_cfg(rclone_s3: RcloneS3, tmp_path: Path, request: pytest.FixtureRequest) -> ConfigS3:
    """app.db on rclone's S3 gateway with litestream 0.5, its replica checked every 2 s."""
    bucket = rclone_s3.fresh_bucket(request.node.name.lower().replace("_", "-")[:40].strip("-[]"))
    return rclone_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data", replica_check_interval="2s")


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.serial  # it counts seconds until the fault is noticed
@pytest.mark.parametrize("which", ["middle", "newest"])
def test_a_level_zero_file_deleted_from_a_live_replica_is_reported_healed_and_nothing_is_lost(
    which: str, rclone_cfg: ConfigS3, rclone_s3: RcloneS3, tmp_path: Path
) -> None:
    cfg, bucket = rclone_cfg, rclone_cfg.replica.bucket
    write_rows(cfg.dbpath, 1)
    seen = Seen()
    with pylts_log(seen), cfg.replicating() as replication, writer(cfg.dbpath, LOAD) as committed:
        seen.replication = replication
        deleted = _plant_gap(rclone_s3, bucket, which)
        assert seen.found_event.wait(60), f"the gap at txid {deleted} was never reported"
        assert seen.healed_event.wait(60), f"the gap at txid {deleted} was reported but never healed: {seen.found}"
        time.sleep(2)
    assert f"transactions {deleted} to {deleted} are missing" in seen.found[0]
    assert isinstance(seen.health[0], Failing) and "cannot be restored whole" in seen.health[0].error
    assert seen.in_sync == [False]
    assert "continuous up to txid" in seen.healed[0]
    acknowledged = {0, *committed}
    assert acknowledged <= _restored(cfg, tmp_path / "copy"), "every acknowledged row restores"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.serial  # the app's close must fall inside the heal
@pytest.mark.parametrize("after", [0.3, 1.5])
def test_the_app_closing_its_database_during_a_heal_loses_nothing(
    after: float, rclone_cfg: ConfigS3, rclone_s3: RcloneS3, tmp_path: Path
) -> None:
    """The app closes its last connection while a gap is healed, as an app stopped for a deploy does.

    The last connection to close folds the WAL into the database and deletes it, unless another
    holds it. A litestream 0.5.17 stopped for one database (its control socket) and started again
    kept what it knew of the WAL from before the heal: the restore lacked the app's last 20 to 180
    rows, and every check said the replica was whole. ``after``: seconds from the gap's report to
    the close (the heal began at once before; now litestream is stopped at the next poll).
    """
    cfg, bucket = rclone_cfg, rclone_cfg.replica.bucket
    write_rows(cfg.dbpath, 1)
    seen = Seen()
    with pylts_log(seen), cfg.replicating():
        with writer(cfg.dbpath, LOAD) as committed:
            _plant_gap(rclone_s3, bucket, "middle")
            assert seen.found_event.wait(60), "the gap was never reported"
            time.sleep(after)
        assert seen.healed_event.wait(60), f"the gap was reported but never healed: {seen.found}"
    assert {0, *committed} <= _restored(cfg, tmp_path / "copy"), "every acknowledged row restores"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.serial  # it counts seconds until the fault is noticed
def test_a_replica_wiped_while_replicating_is_noticed_healed_and_nothing_is_lost(
    rclone_cfg: ConfigS3, rclone_s3: RcloneS3, tmp_path: Path
) -> None:
    cfg, bucket = rclone_cfg, rclone_cfg.replica.bucket
    write_rows(cfg.dbpath, 1)
    seen = Seen()
    with pylts_log(seen), cfg.replicating() as replication, writer(cfg.dbpath, LOAD) as committed:
        seen.replication = replication
        time.sleep(2)
        client = rclone_s3._client()
        for key in rclone_s3.keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        wiped = time.monotonic()
        assert seen.found_event.wait(30), "the wiped replica was never reported"
        noticed = time.monotonic() - wiped
        assert seen.healed_event.wait(60), f"the wiped replica was reported but never healed: {seen.found}"
        time.sleep(2)
    assert noticed < 2 + 10, f"noticed after {noticed:.1f} s with a check every 2 s"
    assert "app.db" in seen.found[0] and ("holds no backup" in seen.found[0] or "no snapshot" in seen.found[0])
    assert isinstance(seen.health[0], Failing) and seen.in_sync == [False]
    acknowledged = {0, *committed}
    assert acknowledged <= _restored(cfg, tmp_path / "copy"), "every acknowledged row restores"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.serial  # it counts seconds until the fault is noticed
def test_the_newest_files_of_a_quiet_database_deleted_are_reported_healed_and_nothing_is_lost(
    rclone_cfg: ConfigS3, rclone_s3: RcloneS3, tmp_path: Path
) -> None:
    """No write after the deletion: the files left chain with no gap, yet lack what litestream reported synced."""
    cfg, bucket = rclone_cfg, rclone_cfg.replica.bucket
    write_rows(cfg.dbpath, 1)
    seen = Seen()
    with pylts_log(seen), cfg.replicating() as replication:
        seen.replication = replication
        for start in range(1, 4):  # a few transactions, each synced
            write_rows(cfg.dbpath, 5, start=start * 5)
            assert replication.wait_for_sync(30)
        files = _files(rclone_s3, bucket)
        newest = max(high for _, _, high, _ in files)
        doomed = [key for level, _, high, key in files if high == newest and level < 9]
        assert doomed, f"no level below 9 holds txid {newest} alone: {files}"
        for key in doomed:
            rclone_s3._client().delete_object(Bucket=bucket, Key=key)
        assert seen.found_event.wait(30), f"the deleted txid {newest} was never reported"
        assert seen.healed_event.wait(60), f"the deleted txid {newest} was reported but never healed: {seen.found}"
    assert "that litestream reported synced" in seen.found[0], seen.found
    assert isinstance(seen.health[0], Failing) and seen.in_sync == [False]
    assert set(range(0, 20)) - {1, 2, 3, 4} <= _restored(cfg, tmp_path / "copy"), "every acknowledged row restores"


@pytest.mark.integration
def test_contents_and_verify_name_a_gap(
    rclone_cfg: ConfigS3, rclone_s3: RcloneS3, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, bucket = rclone_cfg, rclone_cfg.replica.bucket
    for start in range(3):  # three one-shot backups: txids 1, 2 and 3, one level-0 file each
        write_rows(cfg.dbpath, 5, start=5 * start)
        assert cfg.timed_replicate(30, delete=False)
    middle = next(key for level, low, _, key in _files(rclone_s3, bucket) if level == 0 and low == 2)
    rclone_s3._client().delete_object(Bucket=bucket, Key=middle)

    assert cfg.replica_contents().continuity is not None
    assert not cfg.replica_contents().continuity.proven  # type: ignore[union-attr]
    code = main(["contents"], settings=dict(cfg))
    out = capsys.readouterr().out
    assert code == EXIT_FAILURE and "transactions 2 to 2 are missing" in out, out

    result = cfg.verify(sync=True, timeout=20)
    assert result.status == "failed" and "transactions 2 to 2 are missing" in result.detail, result


@pytest.mark.integration
def test_a_backup_over_a_replica_with_a_gap_is_not_confirmed_and_the_database_is_kept(
    rclone_cfg: ConfigS3, rclone_s3: RcloneS3
) -> None:
    cfg, bucket = rclone_cfg, rclone_cfg.replica.bucket
    for start in range(3):  # txids 1, 2 and 3, one level-0 file each
        write_rows(cfg.dbpath, 5, start=5 * start)
        assert cfg.timed_replicate(30, delete=False)
    middle = next(key for level, low, _, key in _files(rclone_s3, bucket) if level == 0 and low == 2)
    rclone_s3._client().delete_object(Bucket=bucket, Key=middle)
    write_rows(cfg.dbpath, 5, start=15)  # txid 4: the newest file is there, the chain below it is not

    with pytest.raises(BackupNotConfirmed, match="no gap up to 1"):
        cfg.timed_replicate(30, delete=True)
    assert len(read_rows(cfg.dbpath)) == 20, "the only whole copy of the data is kept"
