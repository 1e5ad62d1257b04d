"""``wait_for_sync()`` answers from the replica's own listing: as soon as the store holds the commit, never before."""

from __future__ import annotations

import sqlite3
import struct
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from faults import FaultProxy
from helpers import derive, kill_litestream, read_rows, write_rows

from benchmarks.harness import writer
from pylts import ConfigS3
from pylts.errors import ControlSocketError
from pylts.events import SyncTracker
from pylts.layout import ReplicaObjects
from pylts.lines.base import Context
from pylts.lines.v05.control import ControlClient, Listed, SyncStatus
from pylts.lines.v05.observer import SocketObserver, WalRead
from pylts.sqlite_files import WalPosition, litestream_meta
from pylts.store import StoredObject
from pylts.testing import LocalS3

START = datetime.now(timezone.utc) - timedelta(seconds=30)
LTX_HEADER = struct.Struct(">4sIII QQQQ QQ II")  # an LTX file's header, as litestream 0.5 writes it


def at(second: float) -> datetime:
    """litestream's clock, ``second`` s after a start 30 s ago."""
    return START + timedelta(seconds=second)


def monotonic_at(second: float) -> float:
    return time.monotonic() - (datetime.now(timezone.utc) - at(second)).total_seconds()


class Script(ControlClient):
    """litestream's account, one poll at a time: local syncs (began, txid) each second, and the replica's successes.

    It proves txid 4 (the local sync at 0 s ended before the replica's success at 1.05 s began)
    and no more: proving txid 6, captured at 2 s, takes a replica success after 2 s.
    """

    POLLS: tuple[tuple[tuple[float, int], float], ...] = (((0.0, 4), 0.05), ((1.0, 5), 1.05), ((2.0, 6), 1.05))

    def __init__(self, db: Path) -> None:
        super().__init__(Path("/nonexistent/scripted.sock"))
        self.db, self.poll = db, 0

    def sync_status(self, *, seconds: float) -> dict[Path, SyncStatus]:
        (began, txid), _ = self.POLLS[min(self.poll, len(self.POLLS) - 1)]
        ended = at(began + 0.01)
        return {self.db: SyncStatus(path=self.db, active=False, started_at=at(began), updated_at=ended, txid=txid)}

    def listing(self, *, seconds: float) -> dict[Path, Listed]:
        _, success = self.POLLS[min(self.poll, len(self.POLLS) - 1)]
        self.poll += 1
        return {self.db: Listed(path=self.db, status="replicating", last_sync_at=at(success))}


class Store:
    """The replica's level 0 as a store lists it, and the listings asked of it."""

    def __init__(self, db: Path, keys: list[str]) -> None:
        self.db, self.keys, self.asked = db, keys, list[str]()

    def replica_objects(self, deadline: Any, *, failure: Any = None, after: str = "", limit: int | None = None) -> Any:
        self.asked.append(after)
        found = [StoredObject(key, 100, at(0)) for key in sorted(self.keys) if key > after][:limit]
        return ReplicaObjects(tuple(found))


class Unseen(Script):
    """litestream's status never shows the local sync that captured txid 6 (under load, one sync in ten was
    missing from the status pylts polls: benchmarks/__main__.py's lag section)."""

    POLLS = (((0.0, 4), 0.05), ((1.0, 5), 1.05))


#: Where the WAL's commits ended when the wait began: the first WAL (salts 1, 2), up to byte 8,032.
WAL = WalPosition((1, 2), 8032)


def observed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    keys: list[str],
    local_file: str,
    *,
    trusted: bool = True,
    script: type[Script] = Script,
    wal: WalPosition | None = WAL,
) -> tuple[SocketObserver, Store]:
    """An observer whose litestream captured txid 6 locally (``local_file``, in its level 0) after two polls.

    That file read the WAL (`WAL`) up to its end. Each wait reads the WAL at ``wal`` (None: no WAL).
    ``trusted``: litestream started before the script's first local sync (else: just now, after them).
    """
    db = tmp_path / "app.db"
    level0 = litestream_meta(db) / "ltx" / "0"
    level0.mkdir(parents=True)
    (level0 / local_file).write_bytes(LTX_HEADER.pack(b"LTX1", 0, 4096, 1, 0, 6, 0, 0, 32, WAL.end - 32, *WAL.salts))
    store = Store(db, keys)
    observer = SocketObserver({db: cast(Context, store)}, SyncTracker([db]))
    observer.client = script(db)
    monkeypatch.setattr(observer, "_wal_now", lambda: WalRead(time.monotonic(), {db: wal}))
    if trusted:
        observer._distrusted_at = monotonic_at(-1.0)
    observer.poll()
    observer.poll()
    return observer, store


COMMITTED = 1.5  # the commit waited for: after the local sync at 1 s, before the one at 2 s


def test_the_replicas_listing_proves_a_commit_litestreams_account_cannot_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    level0 = "0000/0000000000000006-0000000000000006.ltx"
    observer, store = observed(tmp_path, monkeypatch, [level0], "0000000000000006-0000000000000006.ltx")
    assert observer.wait_for_sync(monotonic_at(COMMITTED), timeout=1.0)
    assert store.asked == ["0000/0000000000000006"], "one listing, from the file that holds txid 6"


def test_a_replica_that_lacks_the_commit_is_never_taken_to_hold_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    level0 = "0000/0000000000000005-0000000000000005.ltx"
    observer, store = observed(tmp_path, monkeypatch, [level0], "0000000000000006-0000000000000006.ltx")
    started = time.monotonic()
    assert not observer.wait_for_sync(monotonic_at(COMMITTED), timeout=1.0)
    assert 2 <= len(store.asked) <= 1.0 / 0.2 + 1, "listed again while waiting, at most every 0.2 s"
    assert time.monotonic() - started < 1.5


def test_a_later_file_without_the_one_that_captured_the_commit_proves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store lists a later level-0 file but not the commit's: a replica wiped since, or another database's."""
    level0 = "0000/0000000000000009-0000000000000009.ltx"
    observer, store = observed(tmp_path, monkeypatch, [level0], "0000000000000006-0000000000000006.ltx")
    assert not observer.wait_for_sync(monotonic_at(COMMITTED), timeout=0.5)
    assert store.asked[0] == "0000/0000000000000006"


def test_the_listing_starts_at_the_local_file_that_captured_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    level0 = "0000/0000000000000003-0000000000000006.ltx"
    observer, store = observed(tmp_path, monkeypatch, [level0], "0000000000000003-0000000000000006.ltx")
    assert observer.wait_for_sync(monotonic_at(COMMITTED), timeout=1.0)
    assert store.asked == ["0000/0000000000000003"]


def test_a_checkpoint_since_the_commit_does_not_hide_the_file_that_captured_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The WAL restarted after the commit: the newest local file reads the next WAL; an older one holds the commit."""
    captured, after_restart = "0000000000000006-0000000000000006.ltx", "0000000000000007-0000000000000007.ltx"
    observer, store = observed(tmp_path, monkeypatch, ["0000/" + captured, "0000/" + after_restart], captured)
    level0 = litestream_meta(store.db) / "ltx" / "0"
    # txid 6 read the first WAL (`WAL`) up to byte 8,032; txid 7 the next one (salts 2, 9), after a checkpoint
    (level0 / captured).write_bytes(LTX_HEADER.pack(b"LTX1", 0, 4096, 1, 6, 6, 0, 0, 32, 8000, 1, 2))
    (level0 / after_restart).write_bytes(LTX_HEADER.pack(b"LTX1", 0, 4096, 1, 7, 7, 0, 0, 32, 100, 2, 9))
    assert observer.wait_for_sync(monotonic_at(COMMITTED), timeout=1.0)
    assert store.asked == ["0000/0000000000000006"], "one listing, from the file of the WAL the commit was in"


def test_a_wal_litestream_has_not_read_to_the_commit_proves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = "0000000000000006-0000000000000006.ltx"
    observer, store = observed(tmp_path, monkeypatch, ["0000/" + short], short)
    (litestream_meta(store.db) / "ltx" / "0" / short).write_bytes(
        LTX_HEADER.pack(b"LTX1", 0, 4096, 1, 6, 6, 0, 0, 32, 4000, 1, 2)  # read up to byte 4,032 of the WAL only
    )
    assert not observer.wait_for_sync(monotonic_at(COMMITTED), timeout=0.5)
    assert store.asked == [], "no local file holds the commit yet: nothing to ask the store"


def test_a_restarted_wal_litestream_has_not_read_proves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit is in a new WAL (other salts) that no local file read yet, though a file of the old one reads
    further into its file than the commit's end."""
    local = "0000000000000006-0000000000000006.ltx"
    observer, store = observed(tmp_path, monkeypatch, ["0000/" + local], local, wal=WalPosition((2, 9), 4032))
    assert not observer.wait_for_sync(monotonic_at(COMMITTED), timeout=0.5)
    assert store.asked == []


def test_the_listing_proves_a_commit_whose_sync_litestreams_status_never_showed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    level0 = "0000/0000000000000006-0000000000000006.ltx"
    observer, store = observed(tmp_path, monkeypatch, [level0], "0000000000000006-0000000000000006.ltx", script=Unseen)
    assert observer.wait_for_sync(monotonic_at(COMMITTED), timeout=1.0)
    assert store.asked == ["0000/0000000000000006"]


def test_after_a_start_the_listing_waits_for_litestreams_own_proof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    level0 = "0000/0000000000000006-0000000000000006.ltx"
    observer, store = observed(tmp_path, monkeypatch, [level0], "0000000000000006-0000000000000006.ltx", trusted=False)
    assert not observer.wait_for_sync(monotonic_at(COMMITTED), timeout=0.5)
    assert store.asked == [], "no sync litestream proved began after the start: the listing is not asked"


class Dead(Script):
    """litestream answered the first two polls, then died: its socket answers no more."""

    def sync_status(self, *, seconds: float) -> dict[Path, SyncStatus]:
        if self.poll >= 2:
            raise ControlSocketError("connection refused")
        return super().sync_status(seconds=seconds)


@pytest.mark.parametrize("emptied", [None, WalPosition((2, 9), 32)], ids=["wal-deleted", "wal-restarted"])
def test_a_wal_emptied_while_litestream_is_down_proves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emptied: WalPosition | None
) -> None:
    """With litestream dead, nothing holds the WAL: the app's commit is checkpointed into the database, its WAL
    truncated or deleted, and the newest local file the store holds is older than the commit."""
    level0 = "0000/0000000000000006-0000000000000006.ltx"
    local = "0000000000000006-0000000000000006.ltx"
    observer, store = observed(tmp_path, monkeypatch, [level0], local, script=Dead, wal=emptied)
    assert not observer.wait_for_sync(time.monotonic(), timeout=0.5)
    assert store.asked == [], "no WAL to say which file captured the commit: nothing to ask the store"


def test_once_litestream_ended_the_listing_waits_for_a_new_runs_proof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    level0 = "0000/0000000000000006-0000000000000006.ltx"
    observer, store = observed(tmp_path, monkeypatch, [level0], "0000000000000006-0000000000000006.ltx")
    observer.after_run()
    assert not observer.wait_for_sync(monotonic_at(COMMITTED), timeout=0.5)
    assert store.asked == []


def test_a_listing_overtaken_by_a_restart_proves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """litestream restarts (or stops for a fresh snapshot) on the supervisor's thread while the store is asked."""
    level0 = "0000/0000000000000006-0000000000000006.ltx"
    observer, store = observed(tmp_path, monkeypatch, [level0], "0000000000000006-0000000000000006.ltx")
    listing = store.replica_objects

    def restarted_meanwhile(deadline: Any, **kwargs: Any) -> Any:
        observer.distrust()  # what before_run and after_run do
        return listing(deadline, **kwargs)

    monkeypatch.setattr(store, "replica_objects", restarted_meanwhile)
    assert not observer.wait_for_sync(monotonic_at(COMMITTED), timeout=0.5)
    assert store.asked == ["0000/0000000000000006"], "asked once; the answer came from before the restart"


@pytest.mark.integration
@pytest.mark.slow
def test_each_wait_under_load_and_a_kill_ends_with_the_commit_in_a_restore(cfg: ConfigS3, tmp_path: Path) -> None:
    """100 transactions a second, a probe committed each round: when wait_for_sync() returns, a restore holds it.

    litestream is killed halfway (the supervisor restarts it and writes a fresh snapshot); the
    waits after it must still not return before the replica holds their probe.
    """
    write_rows(cfg.dbpath, 1)
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body BLOB)")
    probes = 12
    load = "INSERT INTO events (body) VALUES (randomblob(200))"
    with cfg.replicating(max_backoff=1.0) as replication, writer(cfg.dbpath, load):
        for probe in range(1, probes + 1):
            if probe == probes // 2:
                kill_litestream(replication)
            write_rows(cfg.dbpath, 1, start=1_000_000 + probe)
            assert replication.wait_for_sync(30), replication.status()
            copy = derive(cfg, folder=tmp_path / f"probe-{probe}")
            copy.restore()
            assert (1_000_000 + probe, f"item {1_000_000 + probe}") in read_rows(copy.dbpath), f"probe {probe}"
        assert replication.status().restarts == 1
    acknowledged = read_rows(cfg.dbpath)
    final = derive(cfg, folder=tmp_path / "final")
    final.restore()
    assert read_rows(final.dbpath) == acknowledged


@pytest.mark.long
@pytest.mark.integration
@pytest.mark.slow
def test_a_store_that_stops_answering_makes_the_wait_fail_within_its_deadline_then_succeed_once_back(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path
) -> None:
    """A black-holed store: the listing hangs and fails, the wait says False in time; back, the commit restores."""
    with FaultProxy(("127.0.0.1", local_s3.port)) as proxy:
        cfg = local_s3.config(
            bucket,
            "app.db",
            db="app.db",
            folder=tmp_path / "data",
            litestream_bin=litestream_bin,
            endpoint=proxy.endpoint,
        )
        write_rows(cfg.dbpath, 1)
        with cfg.replicating() as replication:
            assert replication.wait_for_sync(30)
            proxy.black_hole()
            write_rows(cfg.dbpath, 1, start=1)
            started = time.monotonic()
            assert not replication.wait_for_sync(3)
            assert time.monotonic() - started < 3 + 2.5, "the listing keeps to the wait's deadline"
            proxy.recover()
            assert replication.wait_for_sync(60), replication.status()
        copy = derive(cfg, folder=tmp_path / "copy")
        copy.restore()
        assert read_rows(copy.dbpath) == [(0, "item 0"), (1, "item 1")]
