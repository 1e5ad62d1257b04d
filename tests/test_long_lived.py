"""A replica that has lived a while: hundreds of LTX files, not the two or three of a short test.

pylts 0.1 kept only the last 200 lines of litestream's output, and ``litestream ltx -json``
prints about 7 lines per file: from about 29 files on every listing lost its head, and
status, verify and the default ``timed_replicate()`` broke on any replica older than a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import read_rows, settings_env, write_rows

from pylts import ConfigS3
from pylts.binary import find_executable
from pylts.cli import main
from pylts.testing import LocalS3

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKUPS = 320  # each one-shot backup of a new row writes one more level-0 LTX file


@pytest.fixture
def aged(local_s3: LocalS3, bucket: str, tmp_path: Path) -> ConfigS3:
    """A litestream 0.5 replica holding more than 300 LTX files, one per backed-up commit."""
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=find_executable())
    for i in range(BACKUPS):
        write_rows(cfg.dbpath, 1, start=i)
        assert cfg.timed_replicate(30, delete=False)
    return cfg


def test_every_call_that_lists_the_replica_works_on_hundreds_of_files(
    aged: ConfigS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    contents = aged.replica_contents()
    assert len(contents.ltx_files) >= BACKUPS
    assert max(f.max_txid_number for f in contents.ltx_files) >= BACKUPS

    for name, value in settings_env(aged).items():
        monkeypatch.setenv(name, value)
    assert main(["status"]) == 0
    assert capsys.readouterr().out.count("ltx  level") >= BACKUPS

    assert aged.verify(sync=True).status == "ok"

    rows = read_rows(aged.dbpath)
    assert aged.timed_replicate(30) is True, "the default delete=True confirms through the listing"
    assert not aged.dbpath.exists()
    aged.restore()
    assert read_rows(aged.dbpath) == rows and len(rows) == BACKUPS
