"""A replica that has lived a while: hundreds of LTX files, not the two or three of a short test.

pylts 0.1 kept only the last 200 lines of litestream's output, and ``litestream ltx -json``
prints about 7 lines per file: from about 29 files on every listing lost its head, and
status, verify and the default ``timed_replicate()`` broke on any replica older than a minute.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import derive, read_rows, settings_env, write_rows

from benchmarks.harness import writer
from pylts import ConfigS3
from pylts.binary import find_executable
from pylts.cli import main
from pylts.testing import LocalS3

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKUPS = 320  # each one-shot backup of a new row writes one more level-0 LTX file
FIRST_ID = 100_000  # the first id benchmarks.harness.writer commits
LOAD = "INSERT INTO items (id, body) VALUES (?, 'under load')"


def main_with(cfg: ConfigS3, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    """``pylts ARGV`` (in this process) with ``cfg`` as its environment."""
    for name, value in settings_env(cfg).items():
        monkeypatch.setenv(name, value)
    return main(argv)


@pytest.fixture
def aged(local_s3: LocalS3, bucket: str, tmp_path: Path) -> ConfigS3:
    """A litestream 0.5 replica holding more than 300 LTX files, one per backed-up commit."""
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=find_executable())
    for i in range(BACKUPS):
        write_rows(cfg.dbpath, 1, start=i)
        assert cfg.timed_replicate(30, delete=False)
    return cfg


@pytest.mark.long
def test_every_call_that_lists_the_replica_works_on_hundreds_of_files(
    aged: ConfigS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    contents = aged.replica_contents()
    assert len(contents.ltx_files) >= BACKUPS
    assert max(f.max_txid_number for f in contents.ltx_files) >= BACKUPS

    assert main_with(aged, ["status"], monkeypatch) == 0
    assert capsys.readouterr().out.count("ltx  level") >= BACKUPS

    assert aged.verify(sync=True).status == "ok"

    rows = read_rows(aged.dbpath)
    assert aged.timed_replicate(30) is True, "the default delete=True confirms (and deletes) on such a replica too"
    assert not aged.dbpath.exists()
    aged.restore()
    assert read_rows(aged.dbpath) == rows and len(rows) == BACKUPS


LIFETIME = 35.0  # seconds of replication under writes: past litestream 0.5's first L1 compaction (30 s)


def committed_by(samples: list[tuple[float, int]], moment: float) -> int:
    """How many commits the writer had made by ``moment`` (wall clock), from (time, count) samples."""
    return max((count for at, count in samples if at <= moment), default=0)


@pytest.mark.long
@pytest.mark.serial  # it restores to a moment and checks which commits, by the second, the copy holds
def test_a_replica_that_lived_under_writes_restores_to_a_moment_in_its_middle(
    cfg: ConfigS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both lines: replication for LIFETIME s at 100 tx/s, then status, verify, a point in the middle, the end."""
    write_rows(cfg.dbpath, 1, start=0)
    samples: list[tuple[float, int]] = []
    with cfg.replicating() as replication, writer(cfg.dbpath, LOAD) as committed:
        end = time.monotonic() + LIFETIME
        while time.monotonic() < end:
            samples.append((time.time(), len(committed)))
            time.sleep(0.25)
        assert replication.wait_for_sync(60)
        verified = cfg.verify(timeout=60)  # its sentinel must reach the replica through this replication
        assert verified.status == "ok", verified
    total = len(committed)
    assert main_with(cfg, ["status"], monkeypatch) == 0

    middle = datetime.fromtimestamp(int(samples[0][0] + LIFETIME / 2), timezone.utc)
    then = derive(cfg, folder=tmp_path / "middle")
    then.restore(timestamp=middle)
    held = [row_id for row_id, _ in read_rows(then.dbpath) if row_id >= FIRST_ID]
    assert held == list(range(FIRST_ID, FIRST_ID + len(held))), "a prefix of the commits, without holes"
    at = middle.timestamp()
    assert committed_by(samples, at - 2.0) <= len(held) <= committed_by(samples, at + 1.5), (len(held), total)

    latest = derive(cfg, folder=tmp_path / "latest")
    latest.restore()
    assert len(read_rows(latest.dbpath)) == 1 + total
