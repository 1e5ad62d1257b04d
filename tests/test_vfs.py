"""Reading a replica through litestream's VFS in a helper process, with the real extension and moto."""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from helpers import missing, write_rows

from pylts import ConfigS3, CredentialsRejected, NoBackupFound, UnsupportedLitestreamVersion, VfsError
from pylts.binary import find_executable
from pylts.testing import SECRET_KEY, LocalS3
from pylts.vfs import _problem_here

pytestmark = pytest.mark.integration


@pytest.fixture
def primary(local_s3: LocalS3, bucket: str, tmp_path: Path) -> ConfigS3:
    problem = _problem_here()
    if problem:
        missing(f"litestream's VFS cannot run here: {problem}")
    return local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "primary", litestream_bin=find_executable())


def loaded_libraries() -> str:
    return Path("/proc/self/maps").read_text()


def test_a_row_written_on_the_primary_is_readable_through_the_vfs(primary: ConfigS3, tmp_path: Path) -> None:
    write_rows(primary.dbpath, 10)
    before = set(tmp_path.iterdir())
    with primary.replicating() as replication, primary.vfs_reader() as replica:
        assert replica.query("SELECT count(*) FROM items") == [(10,)]
        assert replica.query("SELECT body FROM items WHERE id = ?", (3,)) == [("item 3",)]
        first = replica.txid()
        write_rows(primary.dbpath, 5, start=10)
        assert replication.wait_for_sync(30)
        end = time.monotonic() + 20
        while replica.query("SELECT count(*) FROM items") != [(15,)] and time.monotonic() < end:
            time.sleep(0.2)
        assert replica.query("SELECT count(*) FROM items") == [(15,)]
        assert replica.txid() > first
        helper = replica.pid
        assert helper is not None
        command = Path(f"/proc/{helper}/cmdline").read_text()
        assert SECRET_KEY not in command and "litestream_vfs" not in loaded_libraries()
        with closing(sqlite3.connect(tmp_path / "plain.db")) as conn:  # this process's sqlite3 still works
            conn.execute("CREATE TABLE t (x)")
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert replica.pid is None
    assert set(tmp_path.iterdir()) - before == {tmp_path / "plain.db"}  # no local copy was made


def test_a_bad_query_is_a_typed_error_and_the_reader_goes_on(primary: ConfigS3) -> None:
    write_rows(primary.dbpath, 2)
    assert primary.timed_replicate(30, delete=False)
    with primary.vfs_reader() as replica:
        with pytest.raises(VfsError, match="no such table: missing_table"):
            replica.query("SELECT * FROM missing_table")
        with pytest.raises(VfsError, match="readonly"):
            replica.query("DELETE FROM items")
        assert replica.query("SELECT count(*) FROM items") == [(2,)]


def test_an_empty_replica_fails_at_once(primary: ConfigS3) -> None:
    reader = primary.vfs_reader(ready_timeout=30)
    started = time.monotonic()
    with pytest.raises(NoBackupFound, match="holds no backup yet: there is nothing to read through the VFS"):
        reader.start()
    assert time.monotonic() - started < 10 and reader.pid is None


def test_refused_credentials_are_a_typed_error_without_the_secret(primary: ConfigS3, local_s3: LocalS3) -> None:
    write_rows(primary.dbpath, 2)
    assert primary.timed_replicate(30, delete=False)
    local_s3.require_auth(True)
    wrong = local_s3.config(
        primary.replica.bucket,
        "app.db",
        db="app.db",
        folder=primary.folder,
        token="not-the-secret",
        litestream_bin=find_executable(),
    )
    try:
        reader = wrong.vfs_reader(ready_timeout=20)
        with pytest.raises(CredentialsRejected) as raised:
            reader.start()
        assert "not-the-secret" not in str(raised.value)
        assert reader.pid is None
    finally:
        local_s3.require_auth(False)


@pytest.mark.line03
def test_a_litestream_0_3_setup_is_refused_before_anything_runs(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    legacy = os.environ.get("PYLTS_TEST_LITESTREAM_03")
    if not legacy or not Path(legacy).is_file():
        missing("litestream 0.3.13 not found: set PYLTS_TEST_LITESTREAM_03 (python3 tasks.py test does)")
    if _problem_here():
        missing(f"litestream's VFS cannot run here: {_problem_here()}")
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "reader", litestream_bin=legacy)
    with pytest.raises(UnsupportedLitestreamVersion, match=r"VFS needs the transaction ids of"):
        cfg.vfs_reader()
