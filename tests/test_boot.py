"""The boot decision: the local database and its replica are compared before the app opens either.

Each row of the table in pylts/boot.py, on both litestream lines, against the real binary and moto;
then the stale-volume story the trackers tell (an old copy comes back after the replica moved on).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest
from helpers import read_rows, record, write_rows

from pylts import (
    BootPolicy,
    BootReport,
    ConfigS3,
    DatabaseInvalid,
    ForeignDatabase,
    InvalidArgument,
    ReplicaMissing,
    Replicator,
    RestoreOutcome,
    RunContext,
    StaleDatabase,
)
from pylts.binary import Litestream, Version
from pylts.boot import Decision, Local, Replica, converted_from, decide, ensure_restored
from pylts.deadline import Deadline
from pylts.layout import Layout
from pylts.lines import line_for
from pylts.sqlite_files import IntegrityCheck

T = "{:016x}".format


#: The release of each line the decision table is checked with.
VERSIONS = {version.line: version for version in (Version(0, 5, 17), Version(0, 3, 13))}


@pytest.mark.parametrize(
    ("local", "replica", "line", "expected"),
    [
        (Local(False, None), Replica((T(9),)), "0.5", Decision.RESTORE),
        (Local(False, None), Replica(()), "0.5", Decision.FRESH),
        (Local(False, None), Replica((), listed=False), "0.5", Decision.UNLISTED),
        (Local(False, T(3)), Replica((), listed=False), "0.5", Decision.MISSING),
        (Local(True, None), Replica((), listed=False), "0.5", Decision.EXISTING),
        (Local(True, converted_from(Layout.V03), marked=True), Replica((), listed=False), "0.5", Decision.EXISTING),
        (Local(False, converted_from(Layout.V03), marked=True), Replica((), listed=False), "0.5", Decision.UNLISTED),
        (Local(True, converted_from(Layout.V03), marked=True), Replica(()), "0.5", Decision.MISSING),
        (Local(False, None), Replica((T(9),), listed=False), "0.5", Decision.RESTORE),
        (Local(False, T(3)), Replica(()), "0.5", Decision.MISSING),
        (Local(True, T(3)), Replica(()), "0.5", Decision.MISSING),
        (Local(True, None), Replica(()), "0.5", Decision.EXISTING),
        (Local(True, T(9)), Replica((T(9),)), "0.5", Decision.EXISTING),
        (Local(True, T(12)), Replica((T(9),)), "0.5", Decision.EXISTING),
        (Local(True, T(5)), Replica((T(9),)), "0.5", Decision.STALE),
        (Local(True, None), Replica((T(9),)), "0.5", Decision.FOREIGN),
        pytest.param(Local(True, "g2"), Replica(("g2", "g1")), "0.3", Decision.EXISTING, marks=pytest.mark.line03),
        pytest.param(Local(True, "g1"), Replica(("g2", "g1")), "0.3", Decision.STALE, marks=pytest.mark.line03),
        pytest.param(Local(True, "g0"), Replica(("g2", "g1")), "0.3", Decision.FOREIGN, marks=pytest.mark.line03),
        pytest.param(Local(False, "g1"), Replica(("g2", "g1")), "0.3", Decision.RESTORE, marks=pytest.mark.line03),
        (Local(False, None), Replica((), older=Layout.V03), "0.5", Decision.CONVERT),
        (Local(False, T(3), marked=True), Replica((), older=Layout.V03), "0.5", Decision.CONVERT),
        (Local(True, None), Replica((), older=Layout.V03), "0.5", Decision.LAYOUT),
        (Local(True, "a1b2c3d4e5f60718", marked=True), Replica((), older=Layout.V03), "0.5", Decision.LAYOUT),
        (Local(True, T(3)), Replica((), older=Layout.V03), "0.5", Decision.MISSING),
        (Local(False, T(3)), Replica((), older=Layout.V03), "0.5", Decision.MISSING),
        (Local(True, converted_from(Layout.V03)), Replica((), older=Layout.V03), "0.5", Decision.EXISTING),
        (Local(True, converted_from(Layout.V03)), Replica((T(9),)), "0.5", Decision.FOREIGN),
    ],
)
def test_the_decision_table(local: Local, replica: Replica, line: str, expected: Decision) -> None:
    assert decide(local, replica, line_for(Litestream(Path("litestream"), VERSIONS[line])).standing) is expected


pytestmark = pytest.mark.integration


def on_another_machine(cfg: ConfigS3, folder: Path, **changes: str) -> ConfigS3:
    """The same settings on a machine whose database lives in ``folder`` (built anew, so every validator runs)."""
    values = {
        "key": cfg.key,
        "token": cfg.token,
        "s3": cfg.s3,
        "endpoint": cfg.endpoint,
        "region": cfg.region,
        "db": cfg.db,
    }
    return ConfigS3(**{**values, **changes}, folder=folder, litestream_bin=cfg.litestream_bin)  # type: ignore[arg-type]


def snapshot(folder: Path, into: Path) -> Path:
    """A copy of a machine's data folder as a volume keeps it: database, WAL, litestream's metadata, pylts' mark."""
    return Path(shutil.copytree(folder, into))


def test_missing_database_restores_and_the_restored_copy_boots_again(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 10)
    assert cfg.timed_replicate(30) is True
    first = cfg.ensure_restored()
    assert first.outcome is RestoreOutcome.RESTORED and first.replica_position
    write_rows(cfg.dbpath, 5, start=10)  # the app wrote; the process died before litestream ever ran
    again = cfg.ensure_restored()
    assert again.outcome is RestoreOutcome.EXISTING, "a restored copy is from the replica's history"
    assert again.local_position == first.replica_position
    assert len(read_rows(cfg.dbpath)) == 15


def test_nothing_on_either_side_starts_fresh_and_a_new_database_is_existing(cfg: ConfigS3) -> None:
    assert cfg.ensure_restored().outcome is RestoreOutcome.FRESH
    write_rows(cfg.dbpath, 3)
    report = cfg.ensure_restored()
    assert (
        report.outcome is RestoreOutcome.EXISTING and report.local_position is None and report.replica_position is None
    )


def test_drill_changed_replica_url_is_refused(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 20)
    assert cfg.timed_replicate(30, delete=False)
    moved = on_another_machine(cfg, cfg.folder, s3=cfg.s3.replace("/app.db", "/renamed/app.db"))
    before = sorted((p.name, p.stat().st_size) for p in cfg.folder.iterdir())
    with pytest.raises(ReplicaMissing, match="REPLICA_URL changed, or the bucket was emptied") as refused:
        moved.ensure_restored()
    assert refused.value.local_position is not None
    assert sorted((p.name, p.stat().st_size) for p in cfg.folder.iterdir()) == before, "nothing changed on disk"

    adopted = moved.ensure_restored(policy=BootPolicy.ADOPT)
    assert adopted.outcome is RestoreOutcome.ADOPTED
    assert moved.timed_replicate(30, delete=False)
    elsewhere = on_another_machine(moved, tmp_path / "other")
    assert elsewhere.ensure_restored().outcome is RestoreOutcome.RESTORED
    assert len(read_rows(elsewhere.dbpath)) == 20
    record(
        "9. REPLICA_URL changed",
        cfg,
        f"ReplicaMissing (local at {refused.value.local_position}, new replica empty), nothing changed; with adopt the "
        f"20 rows were replicated to the new URL and restore from it",
    )


def test_litestream_metadata_without_its_database_still_counts_as_replicated(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 20)
    assert cfg.timed_replicate(30, delete=False)
    cfg.dbpath.unlink()  # the database gone, litestream's metadata still there
    moved = on_another_machine(cfg, cfg.folder, s3=cfg.s3.replace("/app.db", "/renamed/app.db"))
    with pytest.raises(ReplicaMissing):
        moved.ensure_restored()
    quarantined = moved.ensure_restored(policy=BootPolicy.QUARANTINE)
    assert quarantined.outcome is RestoreOutcome.QUARANTINED and quarantined.moved_to is not None
    assert not (quarantined.moved_to / cfg.db).exists(), "nothing is made up where there was no database"
    assert moved.ensure_restored().outcome is RestoreOutcome.FRESH, "the old metadata went with the quarantine"


def test_a_database_copied_in_from_elsewhere_is_refused(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 10)
    assert cfg.timed_replicate(30) is True
    stranger = on_another_machine(cfg, tmp_path / "stranger")
    write_rows(stranger.dbpath, 3)  # made here, never replicated nor restored here
    with pytest.raises(ForeignDatabase, match="never replicated or restored here"):
        stranger.ensure_restored()
    assert len(read_rows(stranger.dbpath)) == 3


def test_a_file_that_is_not_sqlite_is_refused_whatever_the_policy(cfg: ConfigS3) -> None:
    cfg.folder.mkdir(parents=True)
    cfg.dbpath.write_bytes(b"garbage" * 100)
    for policy in BootPolicy:
        with pytest.raises(DatabaseInvalid):
            cfg.ensure_restored(policy=policy)
    assert cfg.dbpath.read_bytes() == b"garbage" * 100


@pytest.fixture
def stale_volume(cfg: ConfigS3, tmp_path: Path) -> tuple[ConfigS3, ConfigS3]:
    """The drill the trackers describe: a machine with 55 rows goes away; its successor restores,
    grows the database to 150 rows and backs it up; then the old volume comes back."""
    write_rows(cfg.dbpath, 55)
    assert cfg.timed_replicate(30, delete=False)
    old_volume = snapshot(cfg.folder, tmp_path / "old-volume")
    successor = on_another_machine(cfg, tmp_path / "successor")
    assert successor.ensure_restored().outcome is RestoreOutcome.RESTORED
    write_rows(successor.dbpath, 95, start=55)
    assert successor.timed_replicate(30, delete=False)
    return on_another_machine(cfg, old_volume), successor


def test_drill_stale_volume_is_refused_and_the_replica_keeps_every_row(
    stale_volume: tuple[ConfigS3, ConfigS3], tmp_path: Path
) -> None:
    old, _ = stale_volume
    with pytest.raises(StaleDatabase, match="is behind its replica") as refused:
        old.ensure_restored()
    assert refused.value.local_position != refused.value.replica_position
    assert len(read_rows(old.dbpath)) == 55, "left alone"
    fresh = on_another_machine(old, tmp_path / "check")
    fresh.ensure_restored()
    assert len(read_rows(fresh.dbpath)) == 150
    record(
        "8. stale volume comes back",
        old,
        f"old copy of 55 rows at {refused.value.local_position}, "
        f"replica of 150 rows at {refused.value.replica_position}: "
        f"StaleDatabase, nothing changed; the replica still restores {len(read_rows(fresh.dbpath))} rows",
    )


def test_drill_stale_volume_quarantined_and_restored(stale_volume: tuple[ConfigS3, ConfigS3]) -> None:
    old, _ = stale_volume
    started = time.monotonic()
    report = old.ensure_restored(policy=BootPolicy.QUARANTINE)
    took = time.monotonic() - started
    assert report.outcome is RestoreOutcome.QUARANTINED and report.moved_to is not None
    assert len(read_rows(old.dbpath)) == 150
    kept = report.moved_to / old.db
    assert len(read_rows(kept)) == 55, "the old copy is kept whole, never deleted"
    assert old.ensure_restored().outcome is RestoreOutcome.EXISTING
    record(
        "8. stale volume, PYLTS_BOOT_POLICY=quarantine",
        old,
        f"150 rows restored in place in {took:.2f} s; "
        f"the 55-row copy kept whole in {kept.parent.name.split('-')[0]}-<time>/",
    )


def test_adopt_keeps_the_stale_copy_on_purpose(stale_volume: tuple[ConfigS3, ConfigS3], tmp_path: Path) -> None:
    old, _ = stale_volume
    write_rows(old.dbpath, 1, start=1000)
    with pytest.raises(InvalidArgument, match="boot policy 'adpot' is not one of: refuse, quarantine, adopt"):
        old.ensure_restored(policy="adpot")
    assert len(read_rows(old.dbpath)) == 56, "a misspelled policy changes nothing"
    assert old.ensure_restored(policy="adopt").outcome is RestoreOutcome.ADOPTED  # the name, as in PYLTS_BOOT_POLICY
    kept = read_rows(old.dbpath)
    assert old.timed_replicate(30, delete=False)
    check = on_another_machine(old, tmp_path / "check")
    check.ensure_restored()
    assert read_rows(check.dbpath) == kept


def test_the_supervisor_boots_each_database_with_the_step_its_settings_hand_it(cfg: ConfigS3) -> None:
    """The supervisor does not import the boot: `ConfigS3.replication()` hands it `ensure_restored`, which it runs."""
    write_rows(cfg.dbpath, 10)
    assert cfg.timed_replicate(30) is True  # the local database is deleted: the start must restore it
    planned = cfg.replication()
    assert planned.boot is ensure_restored
    calls: list[tuple[Path, IntegrityCheck, BootPolicy]] = []
    returned: list[BootReport] = []

    def step(ctx: RunContext, *, integrity_check: IntegrityCheck, deadline: Deadline, policy: BootPolicy) -> BootReport:
        calls.append((ctx.db, integrity_check, policy))
        returned.append(ensure_restored(ctx, integrity_check=integrity_check, deadline=deadline, policy=policy))
        return returned[-1]

    with Replicator([dataclasses.replace(planned, boot=step)]) as replicator:
        assert replicator.boot_reports == returned
    assert calls == [(cfg.dbpath, "quick", BootPolicy.REFUSE)]
    assert returned[0].outcome is RestoreOutcome.RESTORED
    assert len(read_rows(cfg.dbpath)) == 10
