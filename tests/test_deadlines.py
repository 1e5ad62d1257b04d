"""The time rule (docs/time.md): each public call keeps the caller's deadline and says "time ran out" its own way.

Every call runs the real litestream against a store on 127.0.0.1 that accepts connections and
never answers, or goes silent in the middle of a call, and is checked twice: it ended within its
deadline plus the bounded cleanup (`TIMEOUT_CLEANUP_SECONDS`), and it gave its typed outcome.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import TypeVar

import pytest
from faults import FaultProxy
from helpers import pylts_log, write_rows

from pylts import BackupNotConfirmed, ConfigS3, DatabaseLocked, InvalidArgument, LitestreamTimeout
from pylts.testing import LocalS3
from pylts.timing import TIMEOUT_CLEANUP_SECONDS

pytestmark = [pytest.mark.integration, pytest.mark.serial]

#: A loaded two-core machine may schedule a step late by this much.
SLACK = 0.5
T = TypeVar("T")


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    outcome = call()
    return outcome, time.monotonic() - started


def raises_within(error: type[Exception], seconds: float, call: Callable[[], object]) -> Exception:
    """``call()`` raised ``error`` (not any error) no later than ``seconds`` after it began."""
    started = time.monotonic()
    with pytest.raises(error) as caught:
        call()
    took = time.monotonic() - started
    assert took <= seconds, f"{error.__name__} came after {took:.1f} s, past the {seconds:g} s allowed"
    return caught.value


@contextmanager
def silent_store() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (the kernel completes the handshake)."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def moved(cfg: ConfigS3, endpoint: str, db: str = "app.db") -> ConfigS3:
    """``cfg`` pointed at another endpoint (and database name), built through validation."""
    assert cfg.key is not None and cfg.token is not None
    return ConfigS3(
        _env_file=None,
        key=cfg.key.get_secret_value(),
        token=cfg.token.get_secret_value(),
        s3=cfg.s3,
        endpoint=endpoint,
        region=cfg.region,
        folder=cfg.folder,
        db=db,
        litestream_bin=cfg.litestream_bin,
    )


@contextmanager
def silent_when_running(proxy: FaultProxy, argv_word: str) -> Iterator[None]:
    """Black-hole the store the moment pylts starts a litestream command with ``argv_word`` in it."""

    def on_record(record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "running " in text and f" {argv_word} " in text:
            proxy.black_hole()

    with pylts_log(on_record):
        yield


DEADLINE = 3.0
ALLOWED = DEADLINE + TIMEOUT_CLEANUP_SECONDS + SLACK


@pytest.mark.parametrize(
    "call",
    ["restore", "restore_report", "ensure_restored", "replica_contents", "replicating"],
)
def test_calls_that_raise_litestream_timeout(call: str, cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 3)
    with silent_store() as endpoint:
        fresh = moved(cfg, endpoint, db="other.db")  # missing locally: restore and the startup restore run
        calls: dict[str, Callable[[], object]] = {
            "restore": lambda: fresh.restore(timeout=DEADLINE),
            "restore_report": lambda: fresh.restore_report(timeout=DEADLINE),
            "ensure_restored": lambda: fresh.ensure_restored(timeout=DEADLINE),
            "replica_contents": lambda: moved(cfg, endpoint).replica_contents(timeout=DEADLINE),
            "replicating": lambda: fresh.replicating(ready_timeout=DEADLINE).start().stop(),
        }
        raises_within(LitestreamTimeout, ALLOWED, calls[call])
    assert not fresh.dbpath.exists(), "nothing restored, nothing made up"


def test_timed_replicate_returns_false(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 3)
    with silent_store() as endpoint:
        broken = moved(cfg, endpoint)
        for delete in (False, True):
            done, took = timed(lambda: broken.timed_replicate(DEADLINE, delete=delete))  # noqa: B023
            assert done is False
            assert took <= ALLOWED, f"timed_replicate(delete={delete}) took {took:.1f} s"
    assert cfg.dbpath.exists()


@pytest.mark.parametrize("sync", [True, False])
def test_verify_reports_lagging(sync: bool, cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 3)
    with silent_store() as endpoint:
        result, took = timed(lambda: moved(cfg, endpoint).verify(timeout=DEADLINE, sync=sync))
    assert result.status == "lagging", result
    assert took <= ALLOWED, f"verify took {took:.1f} s"


def test_get_result_on_timeout_returns_the_output(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 3)
    with silent_store() as endpoint:
        broken = moved(cfg, endpoint)
        (stdout, stderr), took = timed(lambda: broken.get_result_on_timeout(broken.replicate_args, DEADLINE))
    assert isinstance(stdout, str) and isinstance(stderr, str)
    assert took <= ALLOWED, f"get_result_on_timeout took {took:.1f} s"


def test_wait_for_sync_returns_false_when_the_store_goes_silent(cfg: ConfigS3, local_s3: LocalS3) -> None:
    write_rows(cfg.dbpath, 3)
    with FaultProxy(("127.0.0.1", local_s3.port)) as proxy:
        through = moved(cfg, proxy.endpoint)
        # a stall watchdog at 5 s, not 30: the recovery below restarts the litestream stuck on the black hole sooner
        with through.replicating(stop_timeout=3, stall_timeout=5) as replication:
            assert replication.wait_for_sync(30)
            proxy.black_hole()
            write_rows(cfg.dbpath, 3, start=100)
            synced, took = timed(lambda: replication.wait_for_sync(DEADLINE))
            assert synced is False
            assert took <= DEADLINE + SLACK, f"wait_for_sync took {took:.1f} s"
            proxy.recover()
            assert replication.wait_for_sync(60), "caught up once the store answered again"


def test_timed_replicate_keeps_its_deadline_when_the_store_goes_silent_before_the_delete(
    cfg: ConfigS3, local_s3: LocalS3
) -> None:
    """The backup is done; the check before deleting meets a silent store: the deadline still holds.

    On 0.3 the confirmation restores the replica, and pylts 0.1 gave it at least 30 s. On 0.5 it
    is what the backup run itself reported, so no second command meets the silent store: the
    backup is confirmed and deleted within the deadline (a listing runs only when the report
    falls short, and keeps the same deadline).
    """
    write_rows(cfg.dbpath, 50)
    confirms_by_restoring = not cfg.plan().line.has_txids  # no positions to compare: rows are, after a restore
    silenced = "restore" if confirms_by_restoring else "ltx"
    with FaultProxy(("127.0.0.1", local_s3.port)) as proxy, silent_when_running(proxy, silenced):
        through = moved(cfg, proxy.endpoint)
        deadline = 8.0  # 0.3 has no -once: its backup alone takes a few seconds
        if not confirms_by_restoring:
            started = time.monotonic()
            assert through.timed_replicate(deadline) is True
            assert time.monotonic() - started < deadline and not cfg.dbpath.exists()
            return
        error = raises_within(
            BackupNotConfirmed, deadline + TIMEOUT_CLEANUP_SECONDS + SLACK, lambda: through.timed_replicate(deadline)
        )
    assert "kept" in str(error)
    assert cfg.dbpath.exists(), "never deleted without the replica's word"


def test_ensure_restored_waits_for_another_process_only_until_its_deadline(cfg: ConfigS3) -> None:
    cfg.folder.mkdir(parents=True)
    fd = os.open(cfg.folder, os.O_RDONLY)  # another process restoring into this folder holds its lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        raises_within(DatabaseLocked, 1.0 + SLACK, lambda: cfg.ensure_restored(timeout=1.0))
    finally:
        os.close(fd)


def test_restore_over_a_database_being_written_refuses_within_its_deadline(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 3)
    assert cfg.timed_replicate(30, delete=False)
    with closing(sqlite3.connect(cfg.dbpath, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")  # a writer in the middle of a transaction
        raises_within(DatabaseLocked, 0.5 + SLACK, lambda: cfg.restore(overwrite=True, timeout=0.5))
        writer.execute("ROLLBACK")
    assert [p.name for p in cfg.folder.iterdir() if ".restore-" in p.name] == []


def test_the_old_name_of_timeout_still_works_with_a_warning(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 3)
    with pytest.warns(DeprecationWarning, match=r"timed_replicate\(timeout=...\)"):
        assert cfg.timed_replicate(timeout_seconds=30, delete=False) is True  # type: ignore[call-arg]  # 0.0.9 name
    with pytest.warns(DeprecationWarning, match=r"replica_contents\(timeout=...\)"):
        assert not cfg.replica_contents(timeout_seconds=30).empty  # type: ignore[call-arg]  # the old name
    with pytest.raises(InvalidArgument, match="not both"):
        cfg.verify(timeout=5, timeout_seconds=5)  # type: ignore[call-arg]  # the old name beside the new
