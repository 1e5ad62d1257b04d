"""Following a replica (litestream 0.5 only), with the real litestream and moto: new rows, restarts, stalls, reads."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import missing, reaped, settings_env, wait_until, write_rows

from pylts import (
    AlreadyReplicating,
    ConfigS3,
    DatabaseExists,
    Follower,
    FollowTargetInUse,
    InvalidArgument,
    NoBackupFound,
    UnsupportedLitestreamVersion,
    connect_readonly,
)
from pylts.binary import find_executable
from pylts.follow import follow_folder
from pylts.testing import SECRET_KEY, LocalS3

pytestmark = pytest.mark.integration

#: Quick settings for tests: poll every 0.2 s, list the replica every 0.5 s, a stall after 3 s.
QUICK: dict[str, Any] = {"interval": 0.2, "check_interval": 0.5, "stall_timeout": 3.0}


def count(path: Path) -> int:
    """Rows of ``items`` in the copy, through a fresh read-only connection."""
    with closing(connect_readonly(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM items").fetchone()[0])


@pytest.fixture
def primary(local_s3: LocalS3, bucket: str, tmp_path: Path) -> ConfigS3:
    """The writing machine: app.db in ``primary/``, litestream 0.5."""
    return local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "primary", litestream_bin=find_executable())


@pytest.fixture
def reader(local_s3: LocalS3, bucket: str, tmp_path: Path) -> ConfigS3:
    """The reading machine: the same replica URL, its copy in ``reader/``."""
    return local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "reader", litestream_bin=find_executable())


@contextmanager
def quick_follower(cfg: ConfigS3, **options: float) -> Iterator[Follower]:
    with cfg.follow(**{**QUICK, **options}) as follower:
        yield follower


def test_a_follower_in_another_folder_sees_new_rows_within_seconds(primary: ConfigS3, reader: ConfigS3) -> None:
    write_rows(primary.dbpath, 10)
    with primary.replicating() as replication, quick_follower(reader) as follower:
        assert count(reader.dbpath) == 10  # ready means the first copy is in place
        first = follower.status().follower_txid
        assert first is not None
        for batch in range(5):
            write_rows(primary.dbpath, 10, start=10 + 10 * batch)
            time.sleep(0.2)
        assert replication.wait_for_sync(30)
        started = time.monotonic()
        assert wait_until(lambda: count(reader.dbpath) == 60, timeout=10)
        caught_up = time.monotonic() - started
        assert wait_until(
            lambda: (now := follower.status()).replica_txid == now.follower_txid and (now.follower_txid or 0) > first,
            timeout=10,
        )
        status = follower.status()
        assert status.running and status.pid and status.restarts == 0 and status.rebuilds == 0
        assert SECRET_KEY not in Path(f"/proc/{status.pid}/cmdline").read_text() + repr(status)
        assert status.lag_transactions == 0 and status.lag_seconds == 0.0
    assert caught_up < 5
    assert reader.dbpath.read_bytes()[18:20] == b"\x01\x01"  # rollback journal: readers stay out of WAL
    assert not [p.name for p in reader.folder.iterdir() if p.name.endswith(("-wal", "-shm", "-journal"))]
    assert not list(follow_folder(reader.dbpath).iterdir())  # the run folders are gone; the copy stays
    assert not follower.status().running


def test_a_follower_in_another_process_sees_new_rows(primary: ConfigS3, reader: ConfigS3) -> None:
    write_rows(primary.dbpath, 5)
    with primary.replicating() as replication:
        process = subprocess.Popen(
            [sys.executable, "-m", "pylts", "follow", "--interval", "0.2"],
            env=settings_env(reader),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with reaped(process):
            assert process.stdout is not None and process.stderr is not None
            line = next(line for line in iter(process.stderr.readline, "") if "following" in line)
            where = rf"{re.escape(reader.s3)}( at \S+)? into {re.escape(str(reader.dbpath))}"
            assert re.match(rf"pylts: following {where}, at transaction [0-9a-f]{{16}}$", line), line
            assert count(reader.dbpath) == 5
            write_rows(primary.dbpath, 20, start=5)
            assert replication.wait_for_sync(30)
            assert wait_until(lambda: count(reader.dbpath) == 25, timeout=10)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=20) == 0
            assert process.stderr.read().endswith("pylts: exit 0\n") and process.stdout.read() == ""


def test_a_killed_litestream_is_restarted_and_catches_up(primary: ConfigS3, reader: ConfigS3) -> None:
    write_rows(primary.dbpath, 10)
    with primary.replicating() as replication, quick_follower(reader, max_backoff=1.0) as follower:
        first = follower.status().pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: follower.status().restarts == 1 and follower.status().pid not in (None, first))
        assert "killed by SIGKILL" in (follower.status().last_error or "")
        write_rows(primary.dbpath, 10, start=10)
        assert replication.wait_for_sync(30)
        assert wait_until(lambda: count(reader.dbpath) == 20, timeout=10)
        assert follower.status().rebuilds == 0


def test_a_stalled_follower_is_rebuilt_while_a_reader_keeps_its_connection(primary: ConfigS3, reader: ConfigS3) -> None:
    write_rows(primary.dbpath, 10)
    with primary.replicating() as replication, quick_follower(reader) as follower:
        held = connect_readonly(reader.dbpath)
        try:
            assert held.execute("SELECT count(*) FROM items").fetchone() == (10,)
            stuck = follower.status().pid
            assert stuck is not None
            os.kill(stuck, signal.SIGSTOP)  # alive, silent, never advancing: the stall of upstream #1515
            write_rows(primary.dbpath, 10, start=10)
            assert replication.wait_for_sync(30)
            assert wait_until(lambda: follower.status().rebuilds == 1, timeout=20)
            assert "stayed at txid" in (follower.status().last_error or "")
            assert wait_until(lambda: count(reader.dbpath) == 20, timeout=20)
            assert held.execute("SELECT count(*) FROM items").fetchone() == (10,)  # its own file, still whole
            assert held.execute("PRAGMA quick_check").fetchone() == ("ok",)
            # the copy is whole once the rebuild restored it; its new litestream starts just after
            assert wait_until(lambda: follower.status().pid not in (None, stuck), timeout=20), follower.status()
            assert follower.status().restarts == 0
        finally:
            held.close()


def test_its_state_says_starting_behind_caught_up_and_stopped(
    primary: ConfigS3, reader: ConfigS3, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="pylts")
    write_rows(primary.dbpath, 10)
    with primary.replicating() as replication:
        follower = reader.follow(**{**QUICK, "stall_timeout": 60.0})
        assert follower.status().state == "starting"
        with follower:
            assert follower.status().state == "following"
            paused = follower.status().pid
            assert paused is not None
            os.kill(paused, signal.SIGSTOP)  # alive and silent: the copy falls behind, short of a stall
            try:
                write_rows(primary.dbpath, 10, start=10)
                assert replication.wait_for_sync(30)
                assert wait_until(lambda: "the copy is behind the replica" in caplog.text, timeout=20), caplog.text
                assert follower.status().state == "behind" and follower.status().lag_transactions
            finally:
                os.kill(paused, signal.SIGCONT)
            assert wait_until(lambda: "the copy caught up with the replica" in caplog.text, timeout=20), caplog.text
            assert follower.status().state == "following" and count(reader.dbpath) == 20
            assert follower.status().rebuilds == 0
    assert follower.status().state == "stopped"


def test_a_replica_whose_history_was_replaced_is_followed_again(
    local_s3: LocalS3, bucket: str, primary: ConfigS3, reader: ConfigS3, tmp_path: Path
) -> None:
    write_rows(primary.dbpath, 10)
    with primary.replicating() as replication:
        for batch in range(8):
            write_rows(primary.dbpath, 1, start=10 + batch)
        assert replication.wait_for_sync(30)
    with quick_follower(reader) as follower:
        assert count(reader.dbpath) == 18
        before = follower.status().follower_txid
        client = local_s3._client()
        for key in local_s3.keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        fresh = local_s3.config(
            bucket, "app.db", db="app.db", folder=tmp_path / "new-primary", litestream_bin=find_executable()
        )
        write_rows(fresh.dbpath, 3, start=1000)
        with fresh.replicating():  # a new history, shorter than the copy's: litestream would wait for ever
            assert wait_until(lambda: follower.status().rebuilds >= 1, timeout=30)
            assert wait_until(lambda: count(reader.dbpath) == 3, timeout=20)
        status = follower.status()
        assert before is not None and status.follower_txid is not None and status.follower_txid < before


def test_a_reader_polling_never_sees_a_torn_file(primary: ConfigS3, reader: ConfigS3) -> None:
    """Every transaction adds 10 rows: a consistent read sees a multiple of 10, never fewer than before."""
    write_rows(primary.dbpath, 10)
    seen: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def write() -> None:
        start = 10
        while not done.is_set():
            write_rows(primary.dbpath, 10, start=start)
            start += 10
            time.sleep(0.02)

    def poll() -> None:
        while not done.is_set():
            try:
                seen.append(count(reader.dbpath))
            except sqlite3.Error as exc:
                errors.append(str(exc))

    with primary.replicating(), quick_follower(reader) as follower:
        threads = [threading.Thread(target=write), threading.Thread(target=poll)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(3)
            pid = follower.status().pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # a fresh copy is swapped in under the reader
            assert wait_until(lambda: follower.status().restarts == 1, timeout=20)
            assert wait_until(lambda: (follower.status().follower_txid or 0) > 5, timeout=20)
            time.sleep(3)
        finally:
            done.set()
            for thread in threads:
                thread.join(timeout=30)
    assert not errors, errors[:5]
    assert len(seen) > 50 and seen[-1] > 10
    assert all(n % 10 == 0 for n in seen), sorted({n for n in seen if n % 10})
    assert seen == sorted(seen), "a read went back in time"  # a fresh copy is at least where the old one was


def test_following_into_a_replicated_database_is_refused(primary: ConfigS3) -> None:
    write_rows(primary.dbpath, 3)
    with primary.replicating():
        before = primary.dbpath.read_bytes()
        with pytest.raises(FollowTargetInUse, match=r"process \d+ on this machine replicates or follows it"):
            primary.follow().start()
        assert primary.dbpath.read_bytes() == before
        assert not follow_folder(primary.dbpath).exists()


def test_a_followed_copy_cannot_be_replicated(primary: ConfigS3, reader: ConfigS3) -> None:
    write_rows(primary.dbpath, 3)
    assert primary.timed_replicate(30, delete=False)
    with reader.follow(), pytest.raises(AlreadyReplicating):
        reader.replicating(ready_timeout=10).start()


def test_an_existing_database_is_never_replaced(primary: ConfigS3, reader: ConfigS3) -> None:
    write_rows(primary.dbpath, 3)
    assert primary.timed_replicate(30, delete=False)
    write_rows(reader.dbpath, 7)  # someone's own database at the path
    with pytest.raises(DatabaseExists, match="is not a copy pylts followed before"):
        reader.follow().start()
    assert count(reader.dbpath) == 7
    assert not follow_folder(reader.dbpath).exists()


def test_a_copy_followed_before_is_replaced_by_a_fresh_one(primary: ConfigS3, reader: ConfigS3) -> None:
    write_rows(primary.dbpath, 3)
    assert primary.timed_replicate(30, delete=False)
    with reader.follow():
        assert count(reader.dbpath) == 3
    write_rows(primary.dbpath, 4, start=3)
    assert primary.timed_replicate(30, delete=False)
    with reader.follow():  # resuming is refused upstream (#1385): a fresh copy replaces the old one
        assert count(reader.dbpath) == 7


def test_no_backup_fails_at_start_and_leaves_nothing(reader: ConfigS3) -> None:
    with pytest.raises(NoBackupFound, match=r"following app\.db failed: no matching backup files available"):
        reader.follow(ready_timeout=30).start()
    assert not reader.dbpath.exists() and not follow_folder(reader.dbpath).exists()
    with pytest.raises(NoBackupFound):  # the lock was released
        reader.follow(ready_timeout=30).start()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"interval": 0}, "interval must be a number of seconds above 0.05, got 0"),
        ({"interval": 0.01}, "interval must be a number of seconds above 0.05"),
        ({"stall_timeout": -1}, "stall_timeout must be a number of seconds above 0, got -1"),
        ({"ready_timeout": float("inf")}, "ready_timeout must be a number of seconds above 0, got inf"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(reader: ConfigS3, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        reader.follow(**options)
    assert not reader.folder.exists()


def test_a_folder_is_not_a_path_to_follow_into(reader: ConfigS3, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="is a folder"):
        reader.follow(tmp_path).start()


def test_reading_a_missing_copy_says_so(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="start following first"):
        connect_readonly(tmp_path / "nothing.db")
    assert not (tmp_path / "nothing.db").exists()


@pytest.mark.line03
def test_litestream_0_3_cannot_follow(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    legacy = os.environ.get("PYLTS_TEST_LITESTREAM_03")
    if not legacy or not Path(legacy).is_file():
        missing("litestream 0.3.13 not found: set PYLTS_TEST_LITESTREAM_03 (python3 tasks.py test does)")
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "reader", litestream_bin=legacy)
    with pytest.raises(UnsupportedLitestreamVersion, match=r"following a replica .* needs the transaction ids"):
        cfg.follow()
    assert not cfg.folder.exists()
