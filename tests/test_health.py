"""Replicator.health(), and the control socket it reads on litestream 0.5, with the real litestream and moto."""

from __future__ import annotations

import json
import re
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from faults import FaultProxy
from helpers import kill_litestream, write_rows

from benchmarks.harness import writer
from pylts import ConfigS3, FinalSyncFailed, Replicator, sqlite_files
from pylts.binary import find_executable
from pylts.errors import ControlSocketError
from pylts.events import SyncTracker
from pylts.health import Behind, CaughtUp, DatabaseHealth, Failing, Restarting
from pylts.lines.v05.control import ControlClient, Listed, SyncStatus
from pylts.lines.v05.observer import SocketObserver
from pylts.runner import run
from pylts.testing import LocalS3
from pylts.timing import STORE_BACK_SECONDS

pytestmark = pytest.mark.serial

LOAD = "INSERT INTO items (id, body) VALUES (?, 'under load')"


def settle(
    replication: Replicator, wanted: Callable[[DatabaseHealth], bool], *, within: float, every: float = 0.5
) -> tuple[list[DatabaseHealth], float]:
    """health() once every database is as ``wanted`` (or the last answer after ``within`` s), and when."""
    started = time.monotonic()
    states = replication.health()
    while not all(wanted(state) for state in states) and time.monotonic() - started < within:
        time.sleep(every)
        states = replication.health()
    return states, time.monotonic() - started


def caught_up(state: DatabaseHealth) -> bool:
    return isinstance(state, CaughtUp)


def behind_with_a_cause(state: DatabaseHealth) -> bool:
    return isinstance(state, Behind) and state.error is not None


def failing(state: DatabaseHealth) -> bool:
    return isinstance(state, Failing)


@pytest.mark.integration
def test_caught_up_and_on_05_it_is_the_socket_that_answers(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 5)
    with cfg.replicating() as replication:
        write_rows(cfg.dbpath, 5, start=5)
        assert replication.wait_for_sync(30)
        states, _ = settle(replication, caught_up, within=10)
        config = sqlite_files.replicate_config_path_for(cfg.dbpath).read_text()
        socket_folder = None
        if cfg.plan().line.has_control_socket:
            # no debug log: the positions status() and health() report can only come from the socket
            assert 'level: "info"' in config and "debug" not in config
            path = Path(config.split("path: ", 1)[1].split("\n", 1)[0].strip('"'))
            assert stat.S_ISSOCK(path.stat().st_mode) and path.stat().st_mode & 0o777 == 0o600
            assert path.parent.stat().st_mode & 0o777 == 0o700
            socket_folder = path.parent
            local = ControlClient(path).txid(cfg.dbpath, seconds=2)
            assert isinstance(states[0], CaughtUp) and states[0].txid == f"{local:016x}"
        status = replication.status()
    assert [type(state) for state in states] == [CaughtUp], states
    assert states[0].path == cfg.dbpath and (states[0].seconds_since_sync or 0) < 10
    assert status.in_sync and status.databases[0].replica_position is not None
    if socket_folder is not None:
        assert not socket_folder.exists()  # the private folder goes with the run


@pytest.mark.integration
def test_behind_while_the_store_is_down_then_caught_up_again(cfg: ConfigS3, local_s3: LocalS3) -> None:
    """The store stops; commits keep coming: behind within seconds, with the cause; caught up after it returns."""
    write_rows(cfg.dbpath, 5)
    with cfg.replicating(stall_timeout=5, stop_timeout=5) as replication:
        assert replication.wait_for_sync(30)
        local_s3.stop()
        try:
            write_rows(cfg.dbpath, 5, start=5)
            down, noticed = settle(replication, behind_with_a_cause, within=15)
        finally:
            local_s3.start()
        up, recovered = settle(replication, caught_up, within=90)
        assert replication.wait_for_sync(30)
    assert isinstance(down[0], Behind), down
    assert noticed < 10, f"behind reported after {noticed:.1f} s"
    assert re.search("does not answer|connection refused", down[0].error or ""), down  # pylts' probe, or litestream
    assert down[0].local_txid != down[0].replica_txid
    assert isinstance(up[0], CaughtUp), (up, replication.status())
    print(f"behind reported {noticed:.1f} s after the outage began, caught up {recovered:.1f} s after it ended")


@pytest.mark.integration
def test_litestream_status_says_ok_but_health_says_failing(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    """The trap of the issue: the bucket disappears; `litestream status` still says ok, health() does not."""
    litestream = find_executable()
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream)
    write_rows(cfg.dbpath, 5)
    with pytest.raises(FinalSyncFailed), cfg.replicating(stall_timeout=5, stop_timeout=3) as replication:
        assert replication.wait_for_sync(30)
        client = local_s3._client()
        for key in local_s3.keys(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)  # the replica can no longer be written
        write_rows(cfg.dbpath, 5, start=5)
        states, noticed = settle(replication, failing, within=20)
        config = sqlite_files.replicate_config_path_for(cfg.dbpath)
        said = run([str(litestream), "status", "-json", "-config", str(config)], env=cfg.plan().env, timeout=20)
    assert json.loads(said.stdout)[0]["status"] == "ok", said.stdout  # the trap is real...
    assert isinstance(states[0], Failing) and "NoSuchBucket" in states[0].error, states  # ...and not fallen into
    assert noticed < 15


@pytest.mark.integration
def test_each_database_is_watched_at_its_own_endpoint(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    """b.db's store goes silent while a.db's answers: b.db's stall is its store's, so litestream is not restarted.

    On litestream 0.5 only: 0.3 was seen to stop reporting a.db as well, which rightly restarts it.
    """
    litestream_bin = find_executable()
    folder = tmp_path / "data"
    here = local_s3.config(bucket, "a.db", db="a.db", folder=folder, litestream_bin=litestream_bin)
    with FaultProxy(("127.0.0.1", local_s3.port)) as proxy:
        there = local_s3.config(
            bucket, "b.db", db="b.db", folder=folder, litestream_bin=litestream_bin, endpoint=proxy.endpoint
        )
        write_rows(here.dbpath, 1)
        write_rows(there.dbpath, 1)
        with pytest.raises(FinalSyncFailed), Replicator([here, there], stall_timeout=3, stop_timeout=2) as replication:
            assert replication.wait_for_sync(30)
            proxy.black_hole()
            write_rows(there.dbpath, 3, start=1)
            time.sleep(3 + STORE_BACK_SECONDS + 5)  # past the stall, and past the time a store must answer
            status = replication.status()
    assert status.restarts == 0, status  # restarting cannot help: b.db's store does not answer
    assert "b.db not in sync" in (status.last_error or "") and "does not answer" in (status.last_error or "")


@pytest.mark.integration
def test_on_05_the_final_sync_is_the_sockets_answer(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    """The store is gone when the app stops: FinalSyncFailed says the socket's last sync was not confirmed."""
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=find_executable())
    write_rows(cfg.dbpath, 5)
    started = time.monotonic()
    try:
        with (
            pytest.raises(FinalSyncFailed, match=r"litestream did not confirm a sync of app\.db within 3 s"),
            cfg.replicating(stop_timeout=3),
        ):
            write_rows(cfg.dbpath, 5, start=5)
            local_s3.stop()
    finally:
        local_s3.start()
    assert time.monotonic() - started < 3 + 3 + 5 + 10  # the socket's sync, litestream's own, its margin, the start


@pytest.fixture
def silent_socket(tmp_path: Path) -> Iterator[Path]:
    """A Unix socket that accepts connections and never answers, like a control socket behind a hung sync."""
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield path
    stopping.set()
    server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone leaves it waiting
    server.close()
    thread.join(timeout=5)
    assert not thread.is_alive()
    for connection in held:
        connection.close()


@pytest.mark.parametrize(
    "call",
    [
        lambda client: client.txid(Path("/data/app.db"), seconds=1.5),
        lambda client: client.listing(seconds=1.5),
        lambda client: client.sync_status(seconds=1.5),
    ],
    ids=["txid", "list", "sync-status"],
)
def test_every_control_call_keeps_its_deadline(silent_socket: Path, call: Callable[[ControlClient], object]) -> None:
    started = time.monotonic()
    with pytest.raises(ControlSocketError, match=r"no answer within 1\.5 s"):
        call(ControlClient(silent_socket))
    assert 1.4 <= time.monotonic() - started < 2.5


class ScriptedSocket(ControlClient):
    """Answers /debug/sync-status and /list from a script: the facts of a slow upload, replayed one poll at a time."""

    def __init__(self, db: Path, polls: list[tuple[tuple[float, float, int], float]]) -> None:
        super().__init__(Path("/nonexistent/scripted.sock"))
        self._start = datetime.now(timezone.utc) - timedelta(seconds=30)
        self._db, self._polls = db, list(polls)
        self._now: tuple[tuple[float, float, int], float] | None = None

    def _at(self, second: float) -> datetime:
        return self._start + timedelta(seconds=second)

    def next_poll(self) -> None:
        self._now = self._polls.pop(0)

    def sync_status(self, *, seconds: float) -> dict[Path, SyncStatus]:
        assert self._now is not None
        (began, ended, txid), _ = self._now
        status = SyncStatus(
            path=self._db, active=False, started_at=self._at(began), updated_at=self._at(ended), txid=txid
        )
        return {self._db: status}

    def listing(self, *, seconds: float) -> dict[Path, Listed]:
        assert self._now is not None
        return {self._db: Listed(path=self._db, status="replicating", last_sync_at=self._at(self._now[1]))}


def test_a_slow_upload_does_not_make_pylts_claim_a_local_sync_made_while_it_ran(tmp_path: Path) -> None:
    """litestream reads the database's position when a replica sync begins, and records success when it ends.

    Local syncs each second; the upload that began at 1.02 s (holding txid 5) takes until 2.5 s,
    and the local sync of txid 6 ran at 2.0 s, in the middle of it. The success at 2.5 s proves
    no more than what had been captured before the upload began.
    """
    cfg = ConfigS3(
        key="k", token="t", s3="s3://bkt/app.db", folder=tmp_path, db="app.db", litestream_bin=find_executable()
    )
    db = cfg.dbpath
    tracker = SyncTracker([db])
    observer = SocketObserver({db: cfg.plan()}, tracker)
    script = ScriptedSocket(
        db, [((0.0, 0.01, 4), 0.05), ((1.0, 1.01, 5), 0.05), ((2.0, 2.01, 6), 2.5), ((3.0, 3.01, 7), 3.05)]
    )
    observer.client = script

    def replica_txid_after_next_poll() -> int | None:
        script.next_poll()
        observer.poll()
        held = tracker.replica_position(db)
        return None if held is None else int(str(held), 16)

    assert replica_txid_after_next_poll() is None, "one success alone proves nothing about the syncs before it"
    assert replica_txid_after_next_poll() is None
    assert (replica_txid_after_next_poll() or 0) <= 5, "txid 6 was captured after the upload began"
    assert replica_txid_after_next_poll() == 6, "the upload that ended at 3.05 s began after 2.5 s: it sent txid 6"


# -- what matters: a commit on its way is not a lag; a fixed fault clears ---------------------------


def sampled(replication: Replicator, seconds: float, every: float = 0.5) -> list[DatabaseHealth]:
    """health() of the one database, every ``every`` s for ``seconds`` s."""
    states, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        states.append(replication.health()[0])
        time.sleep(every)
    return states


@pytest.mark.integration
@pytest.mark.slow
def test_a_steady_writer_is_caught_up_and_an_outage_past_the_threshold_is_behind(
    cfg: ConfigS3, local_s3: LocalS3
) -> None:
    """1 row/s: one commit is always on its way, confirmed a second or two later. That is CaughtUp, lag shown.

    Once the store stops, the oldest unconfirmed commit ages past the threshold (5 s): Behind.
    """
    write_rows(cfg.dbpath, 1)
    with cfg.replicating(stop_timeout=5) as replication, writer(cfg.dbpath, LOAD, per_second=1):
        assert replication.wait_for_sync(30)
        steady = sampled(replication, 10)
        local_s3.stop()
        try:
            down, noticed = settle(replication, lambda state: isinstance(state, Behind), within=20)
        finally:
            local_s3.start()
        up, recovered = settle(replication, caught_up, within=30)
    not_caught_up = [state for state in steady if not isinstance(state, CaughtUp)]
    assert not not_caught_up, not_caught_up
    lags = [state.behind_seconds for state in steady if state.behind_seconds is not None]
    assert max(lags, default=0) < 5, lags  # the lag is there to read (0.3 confirms within the second), and small
    assert isinstance(down[0], Behind) and (down[0].behind_seconds or 0) >= 5, down
    assert noticed < 15, noticed
    assert isinstance(up[0], CaughtUp), up
    lag = max(lags, default=0)
    print(f"lag under 1 row/s: at most {lag:.1f} s; behind after {noticed:.1f} s; caught up {recovered:.1f} s")


def restarting(state: DatabaseHealth) -> bool:
    return isinstance(state, Restarting)


@pytest.mark.integration
@pytest.mark.slow
def test_failing_clears_within_30_s_once_credentials_are_accepted_again(cfg: ConfigS3, local_s3: LocalS3) -> None:
    """Credentials refused while the app writes, litestream killed while they are (the backoff grows), then fixed.

    Failing must say a current error: within 30 s of the fix health() is CaughtUp, though
    litestream printed the 403 minutes before, never said it recovered, or was restarted since.
    """
    write_rows(cfg.dbpath, 1)
    with (
        cfg.replicating(stop_timeout=5, max_backoff=4) as replication,
        writer(cfg.dbpath, LOAD, per_second=1) as committed,
    ):
        assert replication.wait_for_sync(30)
        local_s3.require_auth(True)
        try:
            refused, _ = settle(replication, failing, within=30)
            waits = []
            for _ in range(4):  # runs that never sync: 0.5, 1, 2, 4 s
                kill_litestream(replication)
                seen, _ = settle(replication, restarting, within=10, every=0.02)
                waits.append(seen[0])
                settle(replication, lambda state: not restarting(state), within=10)
            time.sleep(3)
        finally:
            local_s3.require_auth(False)
        fixed, cleared = settle(replication, caught_up, within=30)
        assert replication.wait_for_sync(30)
        rows = len(committed)
    assert isinstance(refused[0], Failing) and re.search("403|InvalidAccessKeyId", refused[0].error), refused
    assert isinstance(fixed[0], CaughtUp), fixed
    assert cleared < 30
    assert all(isinstance(wait, Restarting) and "killed by SIGKILL" in wait.error for wait in waits), waits
    assert max(wait.restart_in for wait in waits if isinstance(wait, Restarting)) > 1, waits  # it did grow
    print(f"Failing cleared {cleared:.1f} s after the credentials were accepted again ({rows} rows written)")


@pytest.mark.integration
@pytest.mark.slow
def test_caught_up_within_30_s_once_the_store_is_back_after_the_backoff_grew(cfg: ConfigS3, local_s3: LocalS3) -> None:
    """The store stops; litestream, killed meanwhile, never syncs (the backoff grows); the store returns."""
    write_rows(cfg.dbpath, 1)
    with cfg.replicating(stop_timeout=5, max_backoff=4) as replication, writer(cfg.dbpath, LOAD, per_second=1):
        assert replication.wait_for_sync(30)
        local_s3.stop()
        try:
            for _ in range(4):
                kill_litestream(replication)
                settle(replication, restarting, within=10, every=0.02)
                settle(replication, lambda state: not restarting(state), within=10)
            down, _ = settle(replication, lambda state: isinstance(state, Behind), within=20)
        finally:
            local_s3.start()
        up, recovered = settle(replication, caught_up, within=30)
    assert isinstance(down[0], Behind), down
    assert isinstance(up[0], CaughtUp), up
    assert recovered < 30
    print(f"caught up {recovered:.1f} s after the store returned")


def test_an_error_the_socket_reports_is_shown_with_the_secret_masked(tmp_path: Path) -> None:
    """litestream's control socket quotes the store's words; health() shows them, never the secret in them."""
    from pylts.binary import Litestream, Version
    from pylts.context import RunContext
    from pylts.lines import line_for
    from pylts.replica import parse_replica_url

    db = tmp_path / "app.db"
    line = line_for(Litestream(Path("litestream"), Version(0, 5, 17)))
    ctx = RunContext(line, db, parse_replica_url("s3://bkt/app.db"), env={}, secrets=("AKIDSHOWN", "s3cr3t"))
    observer = SocketObserver({db: ctx}, SyncTracker([db]))
    error = "InvalidAccessKeyId: key AKIDSHOWN signed with s3cr3t"
    state = observer._health(db, 5, SyncStatus(path=db, active=False, error=error), Listed(path=db, status="ok"))
    assert isinstance(state, Failing)
    assert "InvalidAccessKeyId" in state.error
    assert "s3cr3t" not in state.error and "AKIDSHOWN" not in state.error
