"""The stall watchdog, with the real litestream behind a proxy that black-holes the store.

Measured here: after a 10 s black hole, litestream 0.5 stays stuck on its lost connection
for about 80 s more, printing nothing, while its last report still says "in sync but one".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import FaultProxy
from helpers import read_rows, write_rows

from benchmarks.harness import writer
from pylts import ConfigS3, ReplicationStatus, Replicator
from pylts.events import Position, SyncTracker
from pylts.testing import LocalS3

pytestmark = pytest.mark.serial

WRITE = "INSERT INTO items (id, body) VALUES (?, 'written during the test')"


@pytest.fixture
def proxy(local_s3: LocalS3) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", local_s3.port)) as running:
        yield running


@pytest.fixture
def proxied(local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path, proxy: FaultProxy) -> ConfigS3:
    """app.db replicated through the proxy."""
    return local_s3.config(
        bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin, endpoint=proxy.endpoint
    )


def reported(replication: Replicator, words: str, *, within: float) -> ReplicationStatus:
    """The replicator's status once its last error says ``words`` (or the last one seen, after ``within`` s)."""
    end = time.monotonic() + within
    status = replication.status()
    while words not in (status.last_error or "") and time.monotonic() < end:
        time.sleep(0.5)
        status = replication.status()
    return status


@pytest.mark.integration
def test_a_black_hole_is_reported_then_the_stuck_litestream_is_restarted(
    proxied: ConfigS3, proxy: FaultProxy, local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path
) -> None:
    write_rows(proxied.dbpath, 1)
    with proxied.replicating(stall_timeout=5, max_backoff=1) as replication:
        with writer(proxied.dbpath, WRITE, per_second=10) as committed:
            time.sleep(2)
            proxy.black_hole()
            during = reported(replication, "does not answer", within=20)  # the watchdog's first look is at ~5 s
            proxy.recover()
            time.sleep(1)
        recovered_at = time.monotonic()
        assert replication.wait_for_sync(25), replication.status()
        caught_up = time.monotonic() - recovered_at
        after = replication.status()
    assert "app.db not in sync for" in (during.last_error or ""), during
    assert "does not answer" in (during.last_error or "") and during.restarts == 0  # no restart into a black hole
    assert not during.in_sync and (during.databases[0].behind_seconds or 0) > 5
    assert during.databases[0].lagging_since is not None
    assert after.in_sync and after.databases[0].behind_seconds is None
    assert caught_up < 25
    assert after.restarts >= 1  # the held connection never recovers: only a restart gets litestream going
    assert "while the store answered; litestream was restarted" in (after.last_error or "")
    copy = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "copy", litestream_bin=litestream_bin)
    copy.restore()
    assert {row[0] for row in read_rows(copy.dbpath)} >= set(committed)


@pytest.mark.integration
def test_a_steady_writer_raises_no_false_alarm(cfg: ConfigS3) -> None:
    """Busy, then idle for longer than the threshold: no stall, no restart (litestream's own checkpoints included).

    On 0.5 a commit is known to be in the replica two replica syncs after the local sync that
    captured it (`pylts.lines.v05.observer.replica_holds`), and the supervisor looks once a second: a
    steady writer is seen up to about 3 s behind. The threshold sits just above that.
    """
    write_rows(cfg.dbpath, 1)
    with cfg.replicating(stall_timeout=5) as replication:
        with writer(cfg.dbpath, WRITE, per_second=20):
            seen = []
            for _ in range(8):
                time.sleep(1)
                seen.append(replication.status())
        time.sleep(7)
        seen.append(replication.status())
        assert replication.wait_for_sync(10)
    assert all(status.restarts == 0 and not status.last_error for status in seen), seen
    assert seen[-1].in_sync


def test_the_tracker_counts_a_commit_nothing_reported_as_lag() -> None:
    db = Path("/data/app.db")
    tracker = SyncTracker([db], stall_timeout=5)
    tracker.report(db, Position.parse("0000000000000002"), Position.parse("0000000000000002"), time.monotonic())
    assert tracker.behind() == {}
    committed = time.monotonic()
    tracker.note_commit(db, committed)
    assert tracker.behind(committed + 3) == {db: pytest.approx(3)}
    assert tracker.stall_errors() == [] and tracker.snapshot()[0].in_sync  # behind, but not for long
    tracker.note_commit(db, committed - 10)  # an older commit does not hide the first one still pending
    assert tracker.behind(committed + 7)[db] == pytest.approx(7)
    tracker.report(db, Position.parse("0000000000000003"), Position.parse("0000000000000003"), time.monotonic())
    assert tracker.behind() == {} and tracker.snapshot()[0].replica_position == str(Position.parse("0000000000000003"))


def test_a_stall_makes_the_database_not_in_sync() -> None:
    """The last report (50 s ago) says in sync, but a commit made 42 s ago was never reported."""
    db = Path("/data/app.db")
    tracker = SyncTracker([db], stall_timeout=5)
    position = Position.parse("0000000000000002")
    tracker.report(db, position, position, time.monotonic() - 50)
    tracker.note_commit(db, time.monotonic() - 42)
    assert tracker.stall_errors() == ["app.db not in sync for 42 s"]
    report = tracker.snapshot()[0]
    assert not report.in_sync and report.behind_seconds == pytest.approx(42, abs=1)
