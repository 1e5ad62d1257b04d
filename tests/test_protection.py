"""Server-side encryption through the real litestream: round trips with the key, and the refusals without it.

moto and ``rclone serve s3`` both ignore SSE-C (checked: an object written with a key reads back
without it). So SSE-C runs go through `ssec_gateway.SseCGateway`: moto behind a gateway that records
the SSE-C headers of every request and refuses reads as AWS does. SSE-KMS runs on moto directly,
which keeps an object's KMS key id and reports it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from helpers import derive, kill_litestream, read_rows, wait_until, write_rows
from ssec_gateway import SseCGateway

from pylts import ConfigS3, CredentialsRejected, EncryptionKeyRequired, UnsupportedLitestreamVersion
from pylts.binary import find_executable
from pylts.sqlite_files import config_path_for
from pylts.testing import ACCESS_KEY, SECRET_KEY, LocalS3

pytestmark = pytest.mark.integration

RAW_KEY = bytes(range(7, 39))
KEY = base64.b64encode(RAW_KEY).decode()
KEY_MD5 = base64.b64encode(hashlib.md5(RAW_KEY).digest()).decode()
OTHER_KEY = base64.b64encode(bytes(range(50, 82))).decode()


@pytest.fixture
def gateway(local_s3: LocalS3) -> Iterator[SseCGateway]:
    with SseCGateway(local_s3.endpoint) as gateway:
        yield gateway


def through(gateway: SseCGateway, local_s3: LocalS3, bucket: str, folder: Path, litestream_bin: Path) -> ConfigS3:
    return local_s3.config(
        bucket,
        "app.db",
        db="app.db",
        folder=folder,
        litestream_bin=litestream_bin,
        endpoint=gateway.endpoint,
        sse_customer_key=KEY,
    )


def has_sse(cfg: ConfigS3) -> bool:
    """Whether the litestream line of ``cfg`` encrypts (asked of the line, never its name)."""
    return derive(cfg, sse_customer_key=None, sse_kms_key_id=None).plan().line.has_server_side_encryption


def files_under(folder: Path) -> list[str]:
    return sorted(str(path) for path in folder.rglob("*"))


def refused_before_anything_ran(cfg: ConfigS3, gateway: SseCGateway | None) -> None:
    """A line without SSE refuses every operation up front: nothing written, not one request sent."""
    before = files_under(cfg.folder.parent)
    for call in (cfg.plan, lambda: cfg.timed_replicate(20), cfg.restore, cfg.replicating, cfg.verify):
        with pytest.raises(UnsupportedLitestreamVersion, match=r"needs litestream 0\.5\.6 or later"):
            call()
    assert files_under(cfg.folder.parent) == before
    assert gateway is None or gateway.seen == []


def test_a_replica_written_with_a_key_restores_with_it_and_only_with_it(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, gateway: SseCGateway, tmp_path: Path
) -> None:
    cfg = through(gateway, local_s3, bucket, tmp_path / "data", litestream_bin)
    write_rows(cfg.dbpath, 20)
    if not has_sse(cfg):
        refused_before_anything_ran(cfg, gateway)
        return
    with cfg.replicating() as replication:
        write_rows(cfg.dbpath, 20, start=20)
        assert replication.wait_for_sync(30)
        kill_litestream(replication)  # a restart runs with the key too
        write_rows(cfg.dbpath, 20, start=40)
        assert replication.wait_for_sync(60)
        assert cfg.verify(timeout=60).ok, "verify restores the replica: it has the key"
    expected = read_rows(cfg.dbpath)

    elsewhere = derive(cfg, folder=tmp_path / "elsewhere")
    elsewhere.restore()
    assert read_rows(elsewhere.dbpath) == expected and len(expected) == 60

    writes, reads = gateway.writes(), gateway.object_reads()
    assert writes and reads
    assert [w for w in writes if w.key_md5 != KEY_MD5 or not w.carried_key] == [], "every object written with it"
    assert [r for r in reads if r.key_md5 != KEY_MD5 or not r.carried_key] == [], "every object read with it"

    without = derive(cfg, folder=tmp_path / "without", sse_customer_key=None)
    with pytest.raises(EncryptionKeyRequired) as missing:
        without.restore()
    message = str(missing.value)
    assert "\n" not in message, "one line"
    assert message.endswith(
        "the replica is encrypted with an SSE-C key: set PYLTS_SSE_CUSTOMER_KEY to the key it was written with"
    )
    assert not without.dbpath.exists()

    with pytest.raises(CredentialsRejected) as wrong:  # S3 answers a wrong key with 403, as for a wrong secret
        derive(cfg, folder=tmp_path / "wrong", sse_customer_key=OTHER_KEY).restore()
    for error in (missing.value, wrong.value):
        shown = f"{error!s} {error!r} {error.argv} {error.output}"
        assert KEY not in shown and OTHER_KEY not in shown


def test_sse_kms_round_trip_and_the_store_keeps_the_key_id(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path
) -> None:
    kms = "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-4e5f-4a5b-8c7d-9e8f7a6b5c4d"
    cfg = local_s3.config(
        bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin, sse_kms_key_id=kms
    )
    write_rows(cfg.dbpath, 30)
    if not has_sse(cfg):
        refused_before_anything_ran(cfg, None)
        return
    assert cfg.timed_replicate(30, delete=False)
    elsewhere = derive(cfg, folder=tmp_path / "elsewhere")
    elsewhere.restore()
    assert read_rows(elsewhere.dbpath) == read_rows(cfg.dbpath)
    client = boto3.client(
        "s3",
        endpoint_url=local_s3.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    heads = [client.head_object(Bucket=bucket, Key=key) for key in local_s3.keys(bucket)]
    assert heads
    assert {(head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")) for head in heads} == {("aws:kms", kms)}


@pytest.mark.slow
@pytest.mark.long
def test_minutes_of_writes_kills_and_restarts_under_a_key_lose_nothing(
    local_s3: LocalS3, bucket: str, gateway: SseCGateway, tmp_path: Path
) -> None:
    """As in production: a writer commits all along, litestream is killed twice, the app restarts once.

    The app stops writing before each final sync, as a server stops serving before its lifespan ends: a
    commit made during the final sync is one the final sync rightly reports it did not capture.
    """
    cfg = through(gateway, local_s3, bucket, tmp_path / "data", find_executable())
    write_rows(cfg.dbpath, 1)
    stop = threading.Event()
    written = [1]

    def writer() -> None:
        while not stop.is_set():
            write_rows(cfg.dbpath, 1, start=written[0])
            written[0] += 1
            time.sleep(0.05)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        for run in range(2):  # two runs of the app, each with one kill of its litestream
            with cfg.replicating() as replication:
                time.sleep(25)
                kill_litestream(replication)
                time.sleep(25)
                assert replication.wait_for_sync(60), replication.status()
                assert cfg.verify(timeout=60).ok, f"run {run}: the replica restores, with the key"
                stop.set()  # the app stops writing; then the final sync
                thread.join(10)
            if run == 0:
                stop.clear()  # the app starts again, and writes all along
                thread = threading.Thread(target=writer, daemon=True)
                thread.start()
    finally:
        stop.set()
        thread.join(10)
    assert cfg.timed_replicate(60, delete=False)
    expected = read_rows(cfg.dbpath)
    assert len(expected) == written[0] > 500

    elsewhere = derive(cfg, folder=tmp_path / "elsewhere")
    elsewhere.restore()
    assert read_rows(elsewhere.dbpath) == expected
    writes = gateway.writes()
    assert len(writes) > 50 and {(w.key_md5, w.carried_key) for w in writes} == {(KEY_MD5, True)}
    assert {(r.key_md5, r.carried_key) for r in gateway.object_reads()} == {(KEY_MD5, True)}
    leftovers = [p for p in cfg.folder.iterdir() if p.name.endswith("-pylts.yml")]
    assert leftovers == [], "the one-shot runs' configs were removed"
    assert KEY not in "".join(p.read_text(errors="replace") for p in cfg.folder.rglob("*.yml"))
    assert "PYLTS_SSE_CUSTOMER_KEY" not in os.environ


def test_snapshots_to_the_second_destination_are_encrypted_with_the_primarys_key(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, gateway: SseCGateway, tmp_path: Path
) -> None:
    copies = f"{bucket[:40]}-copies"
    local_s3.create_bucket(copies)
    cfg = derive(
        through(gateway, local_s3, bucket, tmp_path / "data", litestream_bin), secondary_url=f"s3://{copies}/app.db"
    )
    write_rows(cfg.dbpath, 30)
    if not has_sse(cfg):
        refused_before_anything_ran(cfg, gateway)
        return
    snapshot = cfg.secondary_snapshot()
    written = [w for w in gateway.writes() if w.path.startswith(f"/{copies}/")]
    assert written, "the snapshot went through the gateway"
    assert [w for w in written if w.key_md5 != KEY_MD5 or not w.carried_key] == [], "every object written with it"
    expected = read_rows(cfg.dbpath)
    cfg.delete()
    restored = cfg.restore_report(source="secondary")
    assert read_rows(cfg.dbpath) == expected and snapshot.name in restored.replica
    without = derive(cfg, folder=tmp_path / "without", sse_customer_key=None)
    with pytest.raises(EncryptionKeyRequired):
        without.restore(source="secondary")
    assert not without.dbpath.exists()


def test_a_replica_encrypted_with_a_key_is_followed_with_it_and_refused_without(
    local_s3: LocalS3, bucket: str, gateway: SseCGateway, tmp_path: Path
) -> None:
    cfg = through(gateway, local_s3, bucket, tmp_path / "primary", find_executable())  # following needs 0.5
    reader = derive(cfg, folder=tmp_path / "reader")
    write_rows(cfg.dbpath, 20)
    with cfg.replicating() as replication:
        assert replication.wait_for_sync(30)
        with reader.follow(interval=0.2, check_interval=0.5) as follower:
            assert read_rows(reader.dbpath) == read_rows(cfg.dbpath)
            write_rows(cfg.dbpath, 20, start=20)
            assert replication.wait_for_sync(30)
            assert wait_until(lambda: len(read_rows(reader.dbpath)) == 40, timeout=20)
            pid = follower.status().pid
            assert pid is not None and KEY not in Path(f"/proc/{pid}/cmdline").read_text()
        run_files = [p for p in (reader.folder).rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
        assert run_files == [], "the key is in no file the follower wrote"
        reads = [r for r in gateway.object_reads() if r.path.startswith(f"/{bucket}/")]
        assert reads and [r for r in reads if r.key_md5 != KEY_MD5 or not r.carried_key] == []
        without = derive(cfg, folder=tmp_path / "without", sse_customer_key=None)
        with pytest.raises(EncryptionKeyRequired):
            without.follow(interval=0.2).start()
        assert not without.dbpath.exists()


def test_a_dry_run_as_of_a_timestamp_reads_an_encrypted_replica_with_its_key_and_is_refused_without(
    local_s3: LocalS3, bucket: str, gateway: SseCGateway, tmp_path: Path
) -> None:
    """The plan reads each file's time with HEAD: with the SSE-C key (the plan matches the restore), and without
    it the store's 400 is an `EncryptionKeyRequired`, a wrong key's 403 `CredentialsRejected`, not a plan silently
    built on the listing's times."""
    cfg = through(gateway, local_s3, bucket, tmp_path / "data", find_executable())  # points need 0.5
    write_rows(cfg.dbpath, 20)
    with cfg.replicating() as replication:
        for start in range(20, 100, 20):  # several syncs: several files to HEAD
            write_rows(cfg.dbpath, 20, start=start)
            assert replication.wait_for_sync(30)
    points = cfg.points()
    heads_before = len(gateway.object_reads())
    plan = cfg.restore_plan(timestamp=points.latest)
    heads = [r for r in gateway.object_reads()[heads_before:] if r.method == "HEAD"]
    assert len(heads) >= len(plan.files) > 0
    assert [r for r in heads if r.key_md5 != KEY_MD5 or not r.carried_key] == [], "every HEAD with the key"
    restored = derive(cfg, folder=tmp_path / "restored")
    report = restored.restore_report(timestamp=points.latest)
    assert report.txid_number == plan.restores_txid, (report, plan)  # the plan is what litestream restored
    assert 0 < len(read_rows(restored.dbpath)) <= 100

    with pytest.raises(EncryptionKeyRequired, match="PYLTS_SSE_CUSTOMER_KEY"):
        derive(cfg, folder=tmp_path / "without", sse_customer_key=None).restore_plan(timestamp=points.latest)
    with pytest.raises(CredentialsRejected) as wrong:
        derive(cfg, folder=tmp_path / "wrong", sse_customer_key=OTHER_KEY).restore_plan(timestamp=points.latest)
    assert KEY not in str(wrong.value) and OTHER_KEY not in str(wrong.value)


def test_overlapping_one_shot_runs_keep_the_config_until_the_last_ends(
    local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """A verify's restore and the supervisor's healing ``replicate -once`` can overlap: one ending must not remove
    the config under the other (seen: ``config file not found`` from the verify of a loaded run)."""
    cfg = local_s3.config(
        bucket, "app.db", db="app.db", folder=tmp_path, litestream_bin=find_executable(), sse_customer_key=KEY
    )
    ctx = cfg.plan()
    config = config_path_for(ctx.db)
    first, second = ctx.line.temporary_config(ctx), ctx.line.temporary_config(ctx)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert config.exists(), "the second run still needs it"
    assert (config.stat().st_mode & 0o777) == 0o600 and KEY not in config.read_text()
    second.__exit__(None, None, None)
    assert not config.exists(), "removed after the last"
    config.write_text("# someone's own\n")
    with ctx.line.temporary_config(ctx):
        pass
    assert config.exists(), "a config that was there before stays"
