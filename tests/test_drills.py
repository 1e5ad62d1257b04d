"""Fault drills: what pylts survives, with the real litestream and a real S3 API on 127.0.0.1.

Each drill is bounded in time and cleans up after itself. Its figures are recorded; with
PYLTS_TEST_DRILL_FIGURES=docs/_generated/drill-figures.md (`python3 tasks.py drills`) they are written
there, and docs/reliability.md includes that file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from helpers import (
    S3Server,
    derive,
    free_port,
    kill_litestream,
    missing,
    pylts_log,
    read_rows,
    record,
    server_name,
    settings_env,
    waited,
    write_rows,
)
from rclone_s3 import RcloneS3

from benchmarks.harness import make_database, s3_server, writer
from pylts import (
    ConfigS3,
    EndpointUnreachable,
    FinalSyncFailed,
    LitestreamTimeout,
    PyltsError,
    RestoreError,
    VerifyResult,
    sqlite_files,
)
from pylts.testing import LocalS3
from pylts.timing import REPLICA_CHECK_INTERVAL

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.serial]
LOAD = "INSERT INTO items (id, body) VALUES (?, 'under load')"


def restored_ids(cfg: ConfigS3, folder: Path) -> set[int]:
    copy = derive(cfg, folder=folder)
    copy.restore()
    return {row[0] for row in read_rows(copy.dbpath)}


def gist(error: BaseException) -> str:
    """An error's message for the figures table: its start, and its end where the cause usually is."""
    text = str(error)
    return text if len(text) <= 160 else f"{text[:70]} … {text[-80:]}"


#: Drill 1's outage: 10 s in the suite (five of its 2-s backoffs), 30 s for the published figures.
OUTAGE_SECONDS = float(os.environ.get("PYLTS_TEST_OUTAGE_SECONDS", "10"))


def test_drill_s3_outage_under_write_load(cfg: ConfigS3, local_s3: LocalS3, tmp_path: Path) -> None:
    """1. The store goes away (for 30 s in the published figures) while the app writes 100 transactions/s:
    nothing committed is lost."""
    write_rows(cfg.dbpath, 1)
    with cfg.replicating(max_backoff=2.0) as replication, writer(cfg.dbpath, LOAD) as committed:
        time.sleep(3)
        local_s3.stop()
        try:
            time.sleep(OUTAGE_SECONDS)
        finally:
            local_s3.start()
        back = time.monotonic()
        assert replication.wait_for_sync(180), replication.status()
        recovered = time.monotonic() - back
    written = set(committed)
    held = restored_ids(cfg, tmp_path / "copy")
    assert written <= held, f"{len(written - held)} committed rows missing"
    record(
        f"1. S3 outage of {OUTAGE_SECONDS:g} s under 100 tx/s",
        cfg,
        f"{len(written)} rows written, {len(held & written)} restored; "
        f"in sync {recovered:.1f} s after the store came back",
    )


def test_drill_litestream_killed_under_load(server_cfg: ConfigS3, s3_server: S3Server, tmp_path: Path) -> None:
    """2. kill -9 of litestream mid-replication: restarted within seconds, nothing lost (on each S3 server)."""
    cfg = server_cfg
    write_rows(cfg.dbpath, 1)
    with cfg.replicating(max_backoff=2.0) as replication, writer(cfg.dbpath, LOAD) as committed:
        time.sleep(2)
        victim = replication.status().pid
        assert victim
        os.kill(victim, signal.SIGKILL)
        restarted = waited(lambda: replication.status().pid not in (None, victim), 30)
        assert restarted is not None and replication.status().restarts == 1
        time.sleep(2)
    held = restored_ids(cfg, tmp_path / "copy")
    assert set(committed) <= held
    record(
        f"2. litestream killed (SIGKILL) under load, on {server_name(s3_server)}",
        cfg,
        f"restarted after {restarted:.1f} s; {len(committed)} rows written, all restored",
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def staging_started(folder: Path) -> bool:
    return any(p.is_dir() and ".restore-" in p.name and any(p.iterdir()) for p in folder.iterdir())


@pytest.mark.parametrize("crash", ["S3 server killed", "litestream killed"])
def test_drill_crash_mid_restore(crash: str, litestream_bin: Path, tmp_path: Path) -> None:
    """3. The store or litestream dies in the middle of restoring a large database over an existing one."""
    with s3_server() as (s3, server):
        s3.create_bucket("drill")
        source = make_database(tmp_path / "source" / "app.db", 120)
        backup = s3.config("drill", "app.db", db="app.db", folder=source.parent, litestream_bin=litestream_bin)
        assert backup.timed_replicate(120, delete=False)
        target = derive(backup, folder=tmp_path / "target")
        write_rows(target.dbpath, 10)  # what the target holds before
        before = sha256(target.dbpath)
        errors: list[BaseException] = []
        worker = threading.Thread(target=lambda: _capture(errors, lambda: target.restore(overwrite=True, timeout=15)))
        started = time.monotonic()
        worker.start()
        assert waited(lambda: staging_started(target.folder), 30) is not None, "the restore never started staging"
        if crash == "S3 server killed":
            server.kill()
        else:
            os.kill(_litestream_child("restore"), signal.SIGKILL)
        worker.join(60)
        took = time.monotonic() - started
    assert len(errors) == 1 and isinstance(errors[0], (RestoreError, LitestreamTimeout, EndpointUnreachable)), errors
    assert sha256(target.dbpath) == before, "the target holds exactly what it held before"
    assert sorted(p.name for p in target.folder.iterdir() if ".restore-" in p.name) == [], "no temporary files remain"
    record(
        f"3. {crash} mid-restore (120 MB)",
        backup,
        f"{type(errors[0]).__name__} after {took:.1f} s: “{gist(errors[0])}”; target unchanged, nothing left behind",
    )


def _capture(errors: list[BaseException], action: Callable[[], object]) -> None:
    try:
        action()
    except BaseException as exc:
        errors.append(exc)


def _litestream_child(command: str) -> int:
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = stat.read_bytes().split(b"\0")
            ppid = int(stat.with_name("stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and len(argv) > 1 and argv[0].endswith(b"litestream") and argv[1] == command.encode():
            return int(stat.parent.name)
    raise AssertionError(f"no litestream {command} is running")


@pytest.mark.long
def test_drill_final_sync_fails_at_shutdown(litestream_bin: Path, tmp_path: Path) -> None:
    """4. The store is gone when the app stops: an error and a non-zero exit, never a silent success."""
    with s3_server() as (s3, server):
        s3.create_bucket("drill")
        cfg = s3.config("drill", "app.db", db="app.db", folder=tmp_path / "data", litestream_bin=litestream_bin)
        write_rows(cfg.dbpath, 5)
        started = time.monotonic()
        with pytest.raises(FinalSyncFailed) as caught, cfg.replicating(stop_timeout=3.0):
            write_rows(cfg.dbpath, 5, start=5)
            server.kill()
        library = time.monotonic() - started
    with s3_server() as (s3, server):
        s3.create_bucket("drill")
        cfg = s3.config("drill", "app.db", db="app.db", folder=tmp_path / "cli", litestream_bin=litestream_bin)
        write_rows(cfg.dbpath, 5)
        app = (  # commits a row the replica does not have yet, then takes the store down
            f"{sys.executable} -c \"import os, signal, sqlite3; c = sqlite3.connect('{cfg.dbpath}'); "
            f"c.execute('INSERT INTO items VALUES (99, 1)'); c.commit(); os.kill({server.pid}, signal.SIGKILL)\""
        )
        result = subprocess.run(
            [sys.executable, "-m", "pylts", "replicate", "--exec", app],
            env=settings_env(cfg),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0 and "final sync failed" in result.stderr
    record(
        "4. final sync fails at shutdown",
        cfg,
        f"FinalSyncFailed raised {library:.1f} s after start; `pylts replicate --exec` exits {result.returncode}",
    )
    assert "final sync failed" in str(caught.value)


BOOT = textwrap.dedent(
    """
    import sqlite3, time
    from pylts import ConfigS3
    started = time.monotonic()
    outcome = ConfigS3(_env_file=None).ensure_restored()
    rows = sqlite3.connect(ConfigS3(_env_file=None).dbpath).execute("SELECT count(*) FROM items").fetchone()[0]
    print(outcome.value, rows, round(time.monotonic() - started, 2))
    """
)


def test_drill_concurrent_boot(cfg: ConfigS3) -> None:
    """5. Four processes boot at once: one restore, and all four open a valid database with every row."""
    write_rows(cfg.dbpath, 500)
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
    lines = sorted(out.split() for out, _ in results)
    assert [line[0] for line in lines] == ["existing", "existing", "existing", "restored"]
    assert all(line[1] == "500" for line in lines)
    record(
        "5. four processes boot at once",
        cfg,
        f"1 restore, 3 waited; all saw 500 rows; slowest ready in {max(float(line[2]) for line in lines):.2f} s",
    )


@contextmanager
def small_filesystem(folder: Path, options: str) -> Iterator[Path]:
    folder.mkdir(parents=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True
    )
    if mount.returncode != 0:
        missing(
            f"cannot mount a tmpfs here ({mount.stderr.strip() or 'not root'}): the drill needs root and mount rights"
        )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize(
    ("case", "options", "says"),
    [("disk full", "size=2m", "no space left"), ("read-only folder", "size=8m,ro", "read-only file system")],
)
def test_drill_disk_full_or_read_only_during_restore(
    case: str, options: str, says: str, cfg: ConfigS3, tmp_path: Path
) -> None:
    """6. The database's folder is full or read-only: a clear error, nothing partial left."""
    source = make_database(cfg.dbpath, 6)
    assert cfg.timed_replicate(60)
    assert not source.exists()
    with small_filesystem(tmp_path / "small", options) as folder:
        target = derive(cfg, folder=folder)
        with pytest.raises(RestoreError) as caught:
            target.restore(timeout=60)
        left = sorted(p.name for p in folder.iterdir())
    assert says in str(caught.value).lower(), caught.value
    assert left == [], f"nothing partial left, found {left}"
    record(f"6. {case} during restore", cfg, f"RestoreError: “{gist(caught.value)}”; folder left empty")


@contextmanager
def silent_store() -> Iterator[int]:
    """A port that accepts connections and never answers (the kernel completes the handshake)."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


#: What each public call does when the store is unreachable: the typed error it raises, or what it returns.
UNREACHABLE_OUTCOMES = {
    "refuses connections": {
        "restore": "raises EndpointUnreachable",
        "ensure_restored": "raises EndpointUnreachable",
        "timed_replicate": "raises EndpointUnreachable",
        "verify": "returns VerifyResult failed",
        "replica_contents": "raises EndpointUnreachable",
        "replicating": "raises EndpointUnreachable",
        "get_result_on_timeout": "returns tuple",
    },
    "never answers": {
        "restore": "raises LitestreamTimeout",
        "ensure_restored": "raises LitestreamTimeout",
        "timed_replicate": "returns False",
        "verify": "returns VerifyResult lagging",
        "replica_contents": "raises LitestreamTimeout",
        "replicating": "raises LitestreamTimeout",
        "get_result_on_timeout": "returns tuple",
    },
}


def outcome(call: Callable[[], object]) -> str:
    """What ``call()`` did, in the words of UNREACHABLE_OUTCOMES; an error outside PyltsError propagates."""
    try:
        result = call()
    except PyltsError as error:
        return f"raises {type(error).__name__}"
    if isinstance(result, VerifyResult):
        return f"returns VerifyResult {result.status}"
    return f"returns {result}" if isinstance(result, bool) else f"returns {type(result).__name__}"


@pytest.mark.parametrize("store", UNREACHABLE_OUTCOMES)
def test_drill_unreachable_endpoint_every_call_keeps_its_deadline(store: str, cfg: ConfigS3) -> None:
    """7. No public call waits for the SDK's two minutes of retries: each returns or raises within its deadline."""
    deadline = 4.0
    margin = 2.0  # a timed-out litestream gets a second to stop before it is killed
    write_rows(cfg.dbpath, 3)
    times: dict[str, float] = {}
    outcomes: dict[str, str] = {}
    with silent_store() as silent:
        port = free_port() if store == "refuses connections" else silent
        broken = derive(cfg, endpoint=f"http://127.0.0.1:{port}")
        fresh = derive(broken, db="other.db")
        calls: dict[str, Callable[[], object]] = {
            "restore": lambda: fresh.restore(timeout=deadline),
            "ensure_restored": lambda: fresh.ensure_restored(timeout=deadline),
            "timed_replicate": lambda: broken.timed_replicate(deadline, delete=False),
            "verify": lambda: broken.verify(timeout=deadline, sync=True),
            "replica_contents": lambda: broken.replica_contents(timeout=deadline),
            "replicating": lambda: broken.replicating(ready_timeout=deadline).start().stop(),
            "get_result_on_timeout": lambda: broken.get_result_on_timeout(broken.replicate_args, deadline),
        }
        for name, call in calls.items():
            started = time.monotonic()
            outcomes[name] = outcome(call)
            times[name] = time.monotonic() - started
    assert outcomes == UNREACHABLE_OUTCOMES[store]
    slow = {name: round(t, 1) for name, t in times.items() if t > deadline + margin}
    assert not slow, f"calls past their {deadline:g} s deadline: {slow}"
    worst = max(times, key=times.__getitem__)
    record(
        f"7. store that {store}",
        cfg,
        f"7 public calls with a {deadline:g} s deadline, each with its typed outcome; "
        f"slowest: {worst} in {times[worst]:.1f} s",
    )


# -- the replica itself: restarts, a wiped replica, and what checking it costs ------------------------


#: Drill 16's kills: 3 in the suite, 20 for the published figures (read before the tests clear PYLTS_* variables).
RESTART_KILLS = int(os.environ.get("PYLTS_TEST_RESTART_KILLS", "3"))
#: Drill 17's replica check interval: 5 s in the suite, the default (60 s) for the published figures.
WIPE_CHECK_INTERVAL = os.environ.get("PYLTS_TEST_WIPE_CHECK_INTERVAL", "5s")


class Healing:
    """When pylts found a fault in the replica itself and when it healed it, from its log."""

    def __init__(self) -> None:
        self.found: list[float] = []
        self.healed: list[float] = []
        self.messages: list[str] = []
        self.snapshots_after_restart = 0

    def __call__(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "writing a fresh snapshot of the database to heal it" in message or "could not write a fresh" in message:
            if len(self.found) == len(self.healed):  # a new fault, not the one still open said again
                self.found.append(time.monotonic())
            self.messages.append(message)
        elif "was healed with a fresh snapshot" in message:
            self.healed.append(time.monotonic())
        elif "after litestream's restart" in message and record.levelno == logging.INFO:
            self.snapshots_after_restart += 1

    def times_to_heal(self) -> list[float]:
        return [healed - found for found, healed in zip(self.found, self.healed, strict=False)]


def rclone_config(server: RcloneS3, tmp_path: Path, name: str, **settings: str) -> ConfigS3:
    return server.config(server.fresh_bucket(name), "app.db", db="app.db", folder=tmp_path / "data", **settings)


def wait_for_checkpoint(db: Path, timeout: float = 30.0) -> bool:
    """Wait until the WAL starts a new cycle (its salts change): litestream has just checkpointed it."""
    first = sqlite_files.wal_position(db)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        now = sqlite_files.wal_position(db)
        if now is not None and first is not None and now.salts != first.salts:
            return True
        first = first or now
        time.sleep(0.005)
    return False


def test_drill_restart_kills_timed_around_checkpoints(rclone_s3: RcloneS3, tmp_path: Path) -> None:
    """16. kill -9 of litestream, again and again under 100 tx/s, at WAL checkpoints and at random: nothing lost."""
    kills = RESTART_KILLS
    cfg = rclone_config(rclone_s3, tmp_path, "restart-drill", replica_check_interval="5s")
    rng = random.Random(15)
    write_rows(cfg.dbpath, 1)
    healing, at_checkpoint = Healing(), 0
    with pylts_log(healing), cfg.replicating(max_backoff=2.0) as replication, writer(cfg.dbpath, LOAD) as committed:
        for kill in range(kills):
            if kill % 2 == 0 and wait_for_checkpoint(cfg.dbpath):
                at_checkpoint += 1
            else:
                time.sleep(rng.uniform(1.0, 5.0))
            # litestream may be between runs here: pylts stops it for the snapshot a restart owes (about 0.1 s)
            victim = kill_litestream(replication)
            assert waited(lambda: replication.status().pid not in (None, victim), 30) is not None  # noqa: B023
        time.sleep(3)
    acknowledged = {0, *committed}
    restored = restored_ids(cfg, tmp_path / "copy")
    missing = acknowledged - restored
    heals = healing.times_to_heal()
    assert len(healing.healed) == len(healing.found), f"gaps reported but not healed: {healing.messages}"
    assert not missing, (
        f"{len(missing)} of {len(acknowledged)} acknowledged rows missing, ids {min(missing)}-{max(missing)} "
        f"({len(restored - acknowledged)} restored rows unacknowledged, {sum(i > max(missing) for i in restored)} "
        f"restored after the hole); gaps reported: {healing.messages}"
    )
    record(
        "16. litestream killed (SIGKILL) again and again under 100 tx/s, on rclone",
        cfg,
        f"{kills} kills ({at_checkpoint} at a WAL checkpoint); {len(acknowledged)} rows acknowledged, 0 missing; "
        f"fresh snapshots after a restart: {healing.snapshots_after_restart}; "
        f"gaps found in the replica: {len(healing.found)}"
        + (f", each healed within {max(heals):.1f} s" if heals else ""),
    )


def test_drill_replica_wiped_while_replicating(rclone_s3: RcloneS3, tmp_path: Path) -> None:
    """17. Every object of the replica deleted under 100 tx/s: noticed, healed with a snapshot, nothing lost."""
    interval = WIPE_CHECK_INTERVAL
    cfg = rclone_config(rclone_s3, tmp_path, "wipe-drill", replica_check_interval=interval)
    write_rows(cfg.dbpath, 1)
    healing = Healing()
    with pylts_log(healing), cfg.replicating() as replication, writer(cfg.dbpath, LOAD) as committed:
        time.sleep(3)
        client = rclone_s3._client()
        for key in rclone_s3.keys(cfg.replica.bucket):
            client.delete_object(Bucket=cfg.replica.bucket, Key=key)
        wiped = time.monotonic()
        assert waited(lambda: healing.healed, 180) is not None, f"never healed: {healing.messages}"
        assert replication.wait_for_sync(30)
    acknowledged = {0, *committed}
    missing = acknowledged - restored_ids(cfg, tmp_path / "copy")
    assert not missing, f"{len(missing)} acknowledged rows missing"
    noticed, healed = healing.found[0] - wiped, healing.healed[0] - wiped
    record(
        "17. replica wiped while replicating under 100 tx/s, on rclone",
        cfg,
        f"checked every {interval}: noticed after {noticed:.1f} s, healed after {healed:.1f} s; "
        f"{len(acknowledged)} rows acknowledged, 0 missing",
    )


class _Requests(logging.Handler):
    """Counts the requests moto's server logs (one line each): pylts' listings ask ``max-keys=1000``."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def count(self, *parts: str) -> int:
        return sum(all(part in line for part in parts) for line in self.lines)


@contextmanager
def moto_request_log() -> Iterator[_Requests]:
    werkzeug = logging.getLogger("werkzeug")
    handler, level = _Requests(), werkzeug.level
    werkzeug.addHandler(handler)
    werkzeug.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        werkzeug.removeHandler(handler)
        werkzeug.setLevel(level)


def test_drill_replica_check_cost(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    """18. What checking the replica costs: S3 requests per check, from moto's request log."""
    seconds, every = 20.0, 2.0
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data", replica_check_interval=f"{every}s")
    write_rows(cfg.dbpath, 1)
    checked: list[str] = []

    def on_record(record: logging.LogRecord) -> None:
        if record.getMessage().startswith("checked the replica of"):
            checked.append(record.getMessage())

    with moto_request_log() as requests, pylts_log(on_record), cfg.replicating():
        started, before, done = time.monotonic(), requests.count("list-type=2", "max-keys=1000"), len(checked)
        time.sleep(seconds)
        listings = requests.count("list-type=2", "max-keys=1000") - before
        checks = len(checked) - done
        took = time.monotonic() - started
        all_requests = len(requests.lines)
    per_check = listings / max(checks, 1)
    per_day = per_check * 86400 / REPLICA_CHECK_INTERVAL
    assert checks >= seconds / every / 2 and per_check == 1, f"{listings} listings for {checks} checks"
    record(
        "18. cost of checking the replica (idle database, moto)",
        cfg,
        f"{checks} checks in {took:.0f} s (every {every:g} s), {listings} LIST requests: {per_check:g} per check; "
        f"{per_day:,.0f} a day at the default interval ({REPLICA_CHECK_INTERVAL:g} s); "
        f"all requests in that time, litestream's included: {all_requests}",
    )
