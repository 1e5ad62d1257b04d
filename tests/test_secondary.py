"""The second destination: scheduled full snapshots to another bucket or store, restore and boot from them.

Every test runs the real litestream binary against real local S3 servers (moto; rclone's S3 gateway as
"another provider"), a fresh bucket for each destination, and proves what it reports by listing the store.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from faults import FaultProxy
from helpers import PYLTS_COMMAND, derive, pylts_log, read_rows, settings_env, wait_until, write_rows
from rclone_s3 import ACCESS_KEY, SECRET_KEY, RcloneS3

from pylts import ConfigS3
from pylts.boot import RestoreOutcome
from pylts.databases import DatabaseSet
from pylts.deadline import Deadline
from pylts.errors import BucketNotFound, ForeignDatabase, InvalidArgument, NoBackupFound
from pylts.secondary import SecondarySchedule, SnapshotSchedule, list_snapshots, take_snapshot
from pylts.testing import LocalS3

pytestmark = pytest.mark.integration


def with_secondary(cfg: ConfigS3, local_s3: LocalS3, bucket: str, **settings: object) -> ConfigS3:
    """``cfg`` with a second destination in a bucket of its own on the same moto server."""
    copies = f"{bucket[:40]}-copies"
    local_s3.create_bucket(copies)
    return derive(cfg, secondary_url=f"s3://{copies}/app.db", **settings)


def delete_primary(local_s3: LocalS3, cfg: ConfigS3) -> int:
    """Delete every object under the primary replica's path (its whole prefix); how many there were."""
    client = local_s3._client()
    keys = [key for key in local_s3.keys(cfg.replica.bucket) if key.startswith(cfg.replica.path.strip("/") + "/")]
    for key in keys:
        client.delete_object(Bucket=cfg.replica.bucket, Key=key)
    assert not [key for key in local_s3.keys(cfg.replica.bucket) if key.startswith(cfg.replica.path + "/")]
    return len(keys)


def test_a_snapshot_to_another_bucket_restores_and_is_proven_by_listing(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str
) -> None:
    cfg = with_secondary(cfg, local_s3, bucket)
    write_rows(cfg.dbpath, 100)
    snapshot = take_snapshot(cfg.plan(), Deadline(60))
    secondary = cfg.plan().secondary
    assert secondary is not None
    assert [s.name for s in list_snapshots(secondary, Deadline(30))] == [snapshot.name]
    copies = cfg.secondary_replica(cfg.replica)
    assert copies is not None
    keys = local_s3.keys(copies.bucket)
    assert keys and all(key.startswith(f"app.db/{snapshot.name}/") for key in keys), keys
    assert local_s3.keys(cfg.replica.bucket) == []  # the primary was not touched
    assert not list(cfg.folder.glob(".app.db.secondary-*"))  # the private copy is gone
    write_rows(cfg.dbpath, 5, start=100)  # after the snapshot: not in it
    cfg.delete()
    report = cfg.restore_report(source="secondary")
    assert read_rows(cfg.dbpath) == [(i, f"item {i}") for i in range(100)]
    assert snapshot.name in report.replica


def test_restore_from_secondary_picks_the_newest_snapshot_and_keeps_only_the_newest(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str, litestream_bin: Path
) -> None:
    cfg = with_secondary(cfg, local_s3, bucket, secondary_keep=2)
    taken = []
    for round_ in range(4):
        write_rows(cfg.dbpath, 10, start=round_ * 10)
        taken.append(take_snapshot(cfg.plan(), Deadline(60), keep=cfg.secondary_keep).name)
        time.sleep(0.01)  # names are to the millisecond
    secondary = cfg.plan().secondary
    assert secondary is not None
    assert [s.name for s in list_snapshots(secondary, Deadline(30))] == taken[:-3:-1]  # two newest, newest first
    copies = cfg.secondary_replica(cfg.replica)
    assert copies is not None
    folders = {key.split("/")[1] for key in local_s3.keys(copies.bucket)}
    assert folders == set(taken[2:])  # the older ones' objects were deleted, not just hidden
    cfg.delete()
    cfg.restore(source="secondary")
    assert len(read_rows(cfg.dbpath)) == 40


def test_restore_from_secondary_without_one_or_with_none_taken_says_what_to_do(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str
) -> None:
    with pytest.raises(InvalidArgument, match="PYLTS_SECONDARY_URL"):
        cfg.restore(source="secondary")
    cfg = with_secondary(cfg, local_s3, bucket)
    with pytest.raises(NoBackupFound, match="holds no snapshot"):
        cfg.restore(source="secondary")
    with pytest.raises(InvalidArgument, match="one point in time"):
        cfg.restore(source="secondary", txid=3)
    assert not cfg.dbpath.exists()


def test_the_cli_restores_from_the_secondary(cfg: ConfigS3, local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    cfg = with_secondary(cfg, local_s3, bucket)
    write_rows(cfg.dbpath, 30)
    snapshot = take_snapshot(cfg.plan(), Deadline(60))
    cfg.delete()
    assert cfg.secondary_url is not None
    env = settings_env(cfg, PYLTS_SECONDARY_URL=cfg.secondary_url)
    result = subprocess.run(
        [PYLTS_COMMAND, "restore", "--from", "secondary"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert snapshot.name in result.stdout
    assert len(read_rows(cfg.dbpath)) == 30
    assert cfg.token is not None and cfg.token.get_secret_value() not in result.stdout + result.stderr


def test_a_secondary_on_another_provider_with_its_own_credentials(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str, rclone_s3: RcloneS3
) -> None:
    """The primary on moto, the second destination on rclone's S3 gateway with rclone's own keys."""
    other = rclone_s3.fresh_bucket("copies")
    cfg = derive(
        cfg,
        secondary_url=f"s3://{other}/app.db",
        secondary_endpoint=rclone_s3.endpoint,
        secondary_access_key_id=ACCESS_KEY,
        secondary_secret_access_key=SECRET_KEY,
    )
    assert SECRET_KEY not in repr(cfg) and SECRET_KEY not in repr(cfg.plan())
    write_rows(cfg.dbpath, 50)
    snapshot = take_snapshot(cfg.plan(), Deadline(60))
    assert any(key.startswith(f"app.db/{snapshot.name}/") for key in rclone_s3.keys(other))
    cfg.delete()
    cfg.restore(source="secondary")
    assert len(read_rows(cfg.dbpath)) == 50
    wrong = derive(cfg, secondary_secret_access_key="not-the-secret")  # rclone checks the secret
    write_rows(cfg.dbpath, 1, start=50)
    with pytest.raises(Exception, match=r"SignatureDoesNotMatch|InvalidAccessKeyId|denied|Forbidden|403") as raised:
        take_snapshot(wrong.plan(), Deadline(30))
    assert "not-the-secret" not in str(raised.value)


def test_boot_falls_back_to_the_secondary_when_the_primary_is_gone_and_says_so(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = with_secondary(cfg, local_s3, bucket)
    write_rows(cfg.dbpath, 40)
    assert cfg.timed_replicate(60, delete=False)
    snapshot = take_snapshot(cfg.plan(), Deadline(60))
    assert delete_primary(local_s3, cfg) > 0
    cfg.delete()
    with caplog.at_level(logging.WARNING, logger="pylts"):
        report = cfg.ensure_restored()
    assert report.outcome is RestoreOutcome.RESTORED and report.from_secondary is not None
    assert snapshot.name in report.from_secondary
    warning = next(r.getMessage() for r in caplog.records if "second destination" in r.getMessage())
    assert cfg.replica.bucket in warning and snapshot.name in warning and "holds no backup" in warning
    assert cfg.token is not None and cfg.token.get_secret_value() not in warning
    assert len(read_rows(cfg.dbpath)) == 40
    assert cfg.ensure_restored().outcome is RestoreOutcome.EXISTING  # a second boot keeps it


def test_boot_falls_back_when_the_primary_bucket_was_deleted(cfg: ConfigS3, local_s3: LocalS3, bucket: str) -> None:
    cfg = with_secondary(cfg, local_s3, bucket)
    write_rows(cfg.dbpath, 20)
    take_snapshot(cfg.plan(), Deadline(60))
    cfg.delete()
    gone = derive(cfg, s3=f"s3://{bucket}-deleted/app.db")  # no such bucket
    assert gone.ensure_restored().from_secondary is not None
    assert len(read_rows(gone.dbpath)) == 20


def test_boot_never_uses_the_secondary_over_a_local_database_or_a_primary_backup(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str
) -> None:
    cfg = with_secondary(cfg, local_s3, bucket)
    write_rows(cfg.dbpath, 10)
    take_snapshot(cfg.plan(), Deadline(60))  # holds 10 rows
    write_rows(cfg.dbpath, 10, start=10)
    assert cfg.timed_replicate(60, delete=False)  # the primary holds 20
    cfg.delete()
    report = cfg.ensure_restored()
    assert report.from_secondary is None and len(read_rows(cfg.dbpath)) == 20  # the primary, not the older copy
    write_rows(cfg.dbpath, 5, start=20)  # a local database, never replicated since, and an empty primary
    delete_primary(local_s3, cfg)
    report = cfg.ensure_restored(policy="adopt")
    assert report.from_secondary is None and len(read_rows(cfg.dbpath)) == 25  # the local copy is kept


@pytest.mark.slow
def test_replication_takes_snapshots_on_schedule_and_health_gives_their_age(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str
) -> None:
    cfg = with_secondary(cfg, local_s3, bucket, secondary_interval="2s")
    write_rows(cfg.dbpath, 1)
    with cfg.replicating() as replication:
        schedule = replication.secondary_schedules()[cfg.dbpath]
        for round_ in range(3):
            write_rows(cfg.dbpath, 10, start=1 + round_ * 10)
            before = schedule.taken
            assert wait_until(lambda: schedule.taken > before, 20), schedule.last_error  # noqa: B023
        (health,) = replication.health()
        assert health.secondary_age is not None and 0 <= health.secondary_age < 10, health
        assert health.secondary_error is None
    secondary = cfg.plan().secondary
    assert secondary is not None
    listed = list_snapshots(secondary, Deadline(30))
    assert len(listed) >= 3
    cfg.delete()
    cfg.restore(source="secondary")
    assert len(read_rows(cfg.dbpath)) >= 21


@pytest.mark.slow
def test_a_hanging_secondary_never_blocks_the_primary(cfg: ConfigS3, local_s3: LocalS3, bucket: str) -> None:
    """The second store black-holes every connection while a snapshot runs: the primary keeps syncing.

    The snapshot hangs until the test stops it (its deadline is far away), so what is measured is
    only that each primary sync is proven while the snapshot is still in flight, however slow the machine.
    """
    host, port = local_s3.endpoint.removeprefix("http://").split(":")
    with FaultProxy((host, int(port))) as proxy:
        cfg = with_secondary(cfg, local_s3, bucket, secondary_endpoint=proxy.endpoint)
        write_rows(cfg.dbpath, 1)
        proxy.black_hole()
        with cfg.replicating() as replication:
            schedule = SecondarySchedule(cfg.plan(), SnapshotSchedule(3600, 24), timeout=600)
            hanging = threading.Thread(target=schedule.snapshot_now, daemon=True)
            hanging.start()
            try:
                assert wait_until(lambda: bool(snapshot_children(cfg.folder)), 60)  # its litestream is hanging
                for i in range(5):
                    write_rows(cfg.dbpath, 1, start=1 + i)
                    assert replication.wait_for_sync(120), replication.status()
                    assert schedule.running and hanging.is_alive()  # the snapshot is still in flight
            finally:
                schedule.stop(60)  # ends its one-shot litestream
                hanging.join(60)
            assert not hanging.is_alive() and snapshot_children(cfg.folder) == []
            assert schedule.last is None and schedule.failed == 1 and schedule.last_error
    cfg.delete()
    cfg.restore()
    assert len(read_rows(cfg.dbpath)) == 6


def test_a_failed_snapshot_is_never_reported_taken(cfg: ConfigS3, local_s3: LocalS3, bucket: str) -> None:
    cfg = derive(cfg, secondary_url=f"s3://{bucket[:40]}-missing/app.db")
    write_rows(cfg.dbpath, 3)
    with pytest.raises(BucketNotFound) as raised:
        take_snapshot(cfg.plan(), Deadline(30))
    assert "NoSuchBucket: The specified bucket does not exist" in str(raised.value)
    assert "create the bucket" in str(raised.value)
    schedule = SecondarySchedule(cfg.plan(), SnapshotSchedule(3600, 24), timeout=30)
    assert schedule.snapshot_now() is None and schedule.last is None and schedule.taken == 0
    assert schedule.last_error


def test_the_copy_is_consistent_while_the_app_writes(cfg: ConfigS3, local_s3: LocalS3, bucket: str) -> None:
    cfg = with_secondary(cfg, local_s3, bucket)
    write_rows(cfg.dbpath, 1)
    stop = threading.Event()

    def write() -> None:
        with closing(sqlite3.connect(cfg.dbpath, timeout=10)) as conn:
            i = 1000
            while not stop.is_set():
                with conn:
                    conn.execute("INSERT INTO items (id, body) VALUES (?, ?)", (i, f"item {i}"))
                i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        snapshots = [take_snapshot(cfg.plan(), Deadline(60)) for _ in range(3)]
    finally:
        stop.set()
        writer.join()
    assert len({s.name for s in snapshots}) == 3
    cfg.delete()
    cfg.restore(source="secondary", integrity_check="full")
    assert len(read_rows(cfg.dbpath)) > 1


@pytest.mark.slow
def test_the_second_stores_keys_stay_out_of_argv_logs_files_and_errors(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str
) -> None:
    key, secret = "AKIASECONDARYSTORE01", "second-store-secret-never-shown"
    cfg = with_secondary(
        cfg, local_s3, bucket, secondary_interval="1s", secondary_access_key_id=key, secondary_secret_access_key=secret
    )
    write_rows(cfg.dbpath, 5)
    logged: list[str] = []
    argvs: list[bytes] = []

    def children_argv() -> None:
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes()
            except OSError:
                continue
            if b"litestream" in text:
                argvs.append(text)

    with pylts_log(lambda record: logged.append(record.getMessage())), cfg.replicating() as replication:
        schedule = replication.secondary_schedules()[cfg.dbpath]
        give_up = time.monotonic() + 30
        while schedule.taken < 2 and time.monotonic() < give_up:
            children_argv()  # while snapshots run: their one-shot litestream is there
            time.sleep(0.01)
        assert schedule.taken >= 2 and schedule.failed == 0, schedule.last_error
        files = [p.read_bytes() for p in cfg.folder.rglob("*") if p.is_file()]
    assert argvs, "no litestream was seen running"
    for text in [*logged, repr(cfg), str(cfg), repr(cfg.plan()), repr(schedule.last)]:
        assert secret not in text and key not in text
    assert all(secret.encode() not in argv and key.encode() not in argv for argv in argvs)
    assert all(secret.encode() not in content for content in files)
    with pytest.raises(Exception) as raised:
        take_snapshot(derive(cfg, secondary_url=f"s3://{bucket[:40]}-gone/app.db").plan(), Deadline(30))
    assert secret not in str(raised.value) and key not in str(raised.value)


def test_pruning_never_deletes_the_snapshot_just_taken_nor_a_newer_one(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot whose clock lags one already listed (another host, a slow upload) keeps both."""
    cfg = with_secondary(cfg, local_s3, bucket, secondary_keep=1)
    write_rows(cfg.dbpath, 5)
    newer = take_snapshot(cfg.plan(), Deadline(60), keep=1)
    monkeypatch.setattr("pylts.secondary.snapshot_name", lambda moment: "20000101T000000000Z")
    older = take_snapshot(cfg.plan(), Deadline(60), keep=1)
    secondary = cfg.plan().secondary
    assert secondary is not None
    assert [s.name for s in list_snapshots(secondary, Deadline(30))] == [newer.name, older.name]


@pytest.mark.parametrize("primary", ["empty", "with data"])
def test_replication_after_a_restore_from_the_secondary_replicates_the_restored_database(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str, primary: str
) -> None:
    """The operator restores the second destination's snapshot on purpose: over an empty primary the next
    replication takes it as it is; over a primary with a backup (maybe newer) only when the policy says so."""
    cfg = with_secondary(cfg, local_s3, bucket)
    write_rows(cfg.dbpath, 20)
    take_snapshot(cfg.plan(), Deadline(60))
    if primary == "with data":
        write_rows(cfg.dbpath, 10, start=20)
        assert cfg.timed_replicate(60, delete=False)
    cfg.delete()
    cfg.restore(source="secondary")
    write_rows(cfg.dbpath, 5, start=100)  # the app writes before replication starts again
    if primary == "with data":
        before = cfg.dbpath.read_bytes()
        with pytest.raises(ForeignDatabase, match=r"restored from the second destination.*PYLTS_BOOT_POLICY=adopt"):
            cfg.ensure_restored()  # an older state must not go over a newer backup unasked
        assert cfg.dbpath.read_bytes() == before, "nothing was changed"
        cfg = derive(cfg, boot_policy="adopt")
    with cfg.replicating() as replication:
        write_rows(cfg.dbpath, 1, start=105)
        assert replication.wait_for_sync(30), replication.status()
    (report,) = replication.boot_reports
    cfg.delete()
    cfg.restore()  # the judge: the primary replica now holds the restored database and what came after
    assert [row[0] for row in read_rows(cfg.dbpath)] == [*range(20), *range(100, 106)], report
    assert report.outcome is (RestoreOutcome.EXISTING if primary == "empty" else RestoreOutcome.ADOPTED)
    assert cfg.ensure_restored().outcome is RestoreOutcome.EXISTING  # the primary's copy, replicated from now on


def test_quarantine_moves_a_copy_restored_from_the_secondary_aside_for_the_primarys_newer_backup(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str
) -> None:
    cfg = derive(with_secondary(cfg, local_s3, bucket), boot_policy="quarantine")
    write_rows(cfg.dbpath, 20)
    take_snapshot(cfg.plan(), Deadline(60))
    write_rows(cfg.dbpath, 10, start=20)
    assert cfg.timed_replicate(60, delete=False)
    cfg.delete()
    cfg.restore(source="secondary")
    report = cfg.ensure_restored()
    assert report.outcome is RestoreOutcome.QUARANTINED and report.moved_to is not None
    assert [row[0] for row in read_rows(cfg.dbpath)] == list(range(30)), "the primary's newer backup"
    assert [row[0] for row in read_rows(Path(report.moved_to) / "app.db")] == list(range(20)), "the copy, kept aside"
    assert cfg.ensure_restored().outcome is RestoreOutcome.EXISTING


def test_a_stray_folder_shaped_like_a_snapshot_is_not_one(cfg: ConfigS3, local_s3: LocalS3, bucket: str) -> None:
    cfg = with_secondary(cfg, local_s3, bucket)
    copies = cfg.secondary_replica(cfg.replica)
    assert copies is not None
    local_s3._client().put_object(Bucket=copies.bucket, Key="app.db/20261399T000000000Z/notes.txt", Body=b"month 13")
    write_rows(cfg.dbpath, 3)
    snapshot = take_snapshot(cfg.plan(), Deadline(60), keep=1)
    secondary = cfg.plan().secondary
    assert secondary is not None
    assert [s.name for s in list_snapshots(secondary, Deadline(30))] == [snapshot.name]
    assert "app.db/20261399T000000000Z/notes.txt" in local_s3.keys(copies.bucket)  # not ours: never deleted


def test_an_unexpected_error_in_a_snapshot_is_shown_and_the_schedule_goes_on(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = with_secondary(cfg, local_s3, bucket)
    write_rows(cfg.dbpath, 3)
    real = take_snapshot
    calls: list[int] = []

    def first_one_breaks(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug, not a store's answer")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("pylts.secondary.take_snapshot", first_one_breaks)
    schedule = SecondarySchedule(cfg.plan(), SnapshotSchedule(1, 24), timeout=30)
    with caplog.at_level(logging.ERROR, logger="pylts"):
        schedule.start()
        try:
            assert wait_until(lambda: schedule.failed == 1, 30)
            assert schedule.last_error == "RuntimeError: a bug, not a store's answer"
            assert wait_until(lambda: schedule.taken >= 1, 30), schedule.last_error  # the thread lives on
        finally:
            schedule.stop(30)
    assert schedule.last is not None  # (a snapshot in flight at the stop is stopped: no last_error check)
    assert any(record.exc_info and "failed unexpectedly" in record.getMessage() for record in caplog.records)


def snapshot_children(folder: Path) -> list[int]:
    """The pids of litestream processes snapshotting a database in ``folder`` (their argv names its copy)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes()
        except OSError:
            continue
        if b"litestream" in argv and f"{folder}/.".encode() in argv and b".secondary-" in argv:
            found.append(int(cmdline.parent.name))
    return found


@pytest.mark.slow
def test_stopping_replication_ends_hanging_snapshots_of_every_database_at_once(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str
) -> None:
    """Two databases, each with a snapshot hanging on a black-holed second store: the stop ends both at once."""
    host, port = local_s3.endpoint.removeprefix("http://").split(":")
    with FaultProxy((host, int(port))) as proxy:
        main = with_secondary(cfg, local_s3, bucket, secondary_endpoint=proxy.endpoint)
        dbs = DatabaseSet.of(main, ["queue.db"])
        for db in dbs.configs:
            write_rows(db.dbpath, 3)
        with dbs.replicating() as replication:
            schedules = replication.secondary_schedules()
            assert wait_until(lambda: all(s.taken == 1 for s in schedules.values()), 30), [
                s.last_error for s in schedules.values()
            ]  # the first ones at start, while the store answered
            proxy.black_hole()
            hanging = [threading.Thread(target=s.snapshot_now, daemon=True) for s in schedules.values()]
            for thread in hanging:
                thread.start()
            assert wait_until(lambda: len(snapshot_children(cfg.folder)) == 2, 30), snapshot_children(cfg.folder)
            began = time.monotonic()
        stopped = time.monotonic() - began  # the primary's final sync included
        for thread in hanging:
            thread.join(10)
        assert not any(thread.is_alive() for thread in hanging)
        assert stopped < 15, stopped  # was 2 x 5 s waits, then the final sync, with both one-shots still running
        assert snapshot_children(cfg.folder) == []
        assert not list(cfg.folder.glob(".*.secondary-*"))
        assert all(s.taken == 1 and s.failed == 1 for s in schedules.values())
