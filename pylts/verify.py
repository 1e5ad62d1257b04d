"""Proof that the backup restores and is current: a sentinel row, watched until a restore holds it.

Nothing is slept for a fixed time: on litestream 0.5 pylts lists the replica's
transactions and restores only once they advance; on 0.3, which has no cheap
listing, it restores with a growing interval.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from . import backup, sqlite_files
from .context import RunContext
from .deadline import Deadline
from .errors import DatabaseNotFound, LitestreamTimeout, PyltsError, RestoreError
from .status import refuse_other_layout
from .timing import BUSY_TIMEOUT, VERIFY_FIRST_WAIT, VERIFY_MAX_WAIT, Backoff

logger = logging.getLogger(__name__)
SENTINEL_TABLE = "_pylts_verify"


class VerifyResult(BaseModel):
    """What ``ConfigS3.verify`` found.

    ``status`` is ``"ok"`` (a restore held the sentinel written moments before),
    ``"lagging"`` (it did not arrive in time) or ``"failed"`` (the replica could not be
    read or restored). ``lag_seconds`` is the time from the sentinel's commit until the
    replica was seen to hold it.
    """

    model_config = ConfigDict(frozen=True)

    status: Literal["ok", "lagging", "failed"]
    lag_seconds: float | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the backup restored and held the sentinel."""
        return self.status == "ok"


def verify(ctx: RunContext, deadline: Deadline, *, sync: bool) -> VerifyResult:
    """Write a sentinel, wait for the replica to hold it, restore and check; clean up everything.

    A file that is not a SQLite database (an empty one included) raises `DatabaseInvalid` before
    anything is written: a sentinel would turn it into a database worth backing up over the replica.
    A replica holding only another litestream line's layout, or one this line cannot read, is
    ``"failed"`` (`ReplicaLayoutMismatch`, saying what to run) before anything is written.
    """
    if not ctx.db.is_file():
        raise DatabaseNotFound(f"{ctx.db} does not exist: there is nothing to verify")
    sqlite_files.require_sqlite_header(ctx.db)
    unfit = _unfit_replica(ctx, deadline)
    if unfit is not None:
        return unfit
    token = uuid.uuid4().hex
    try:
        created_table = _write_sentinel(ctx.db, token)
    except sqlite3.Error as exc:
        return VerifyResult(status="failed", detail=f"cannot write the sentinel row to {ctx.db}: {exc}")
    committed = time.monotonic()
    try:
        if sync and not backup.backup_once(ctx, deadline):
            return VerifyResult(
                status="lagging", detail=f"the one-shot backup did not finish within {deadline.seconds:g} s"
            )
        return _watch(ctx, deadline, token, committed)
    except RestoreError as exc:  # the replica's own files say why, when a gap or a wipe is the cause
        return VerifyResult(status="failed", detail=_replica_problem(ctx, deadline) or f"{type(exc).__name__}: {exc}")
    except PyltsError as exc:
        return VerifyResult(status="failed", detail=f"{type(exc).__name__}: {exc}")
    finally:
        _remove_sentinel(ctx.db, token, drop_table=created_table)


def _unfit_replica(ctx: RunContext, deadline: Deadline) -> VerifyResult | None:
    """Why the replica cannot prove a backup of this line (store unreachable, other layout...), or None."""
    try:
        ctx.probe(deadline)
        refuse_other_layout(ctx, deadline, doing=f"the verify of {ctx.db.name}")
    except LitestreamTimeout:
        return VerifyResult(status="lagging", detail=f"the replica could not be listed within {deadline.seconds:g} s")
    except PyltsError as exc:
        return VerifyResult(status="failed", detail=f"{type(exc).__name__}: {exc}")
    return None


def _watch(ctx: RunContext, deadline: Deadline, token: str, committed: float) -> VerifyResult:
    ctx.probe(deadline)
    waits, seen = Backoff(first=VERIFY_FIRST_WAIT, cap=VERIFY_MAX_WAIT), -1
    with (
        ctx.line.temporary_config(ctx),
        tempfile.TemporaryDirectory(prefix=f".{ctx.db.name}.verify-", dir=ctx.db.parent) as folder,
    ):
        for attempt in range(10_000):
            try:  # the deadline running out mid-listing or mid-restore means lagging, not failed
                top = ctx.line.replica_txid(ctx, deadline)  # None: no cheap listing, restore every time
                if top is None or top > seen:
                    seen, arrived = max(seen, top or 0), time.monotonic()
                    if _restored_copy_holds(ctx, Path(folder) / f"{attempt}-{ctx.db.name}", token, deadline):
                        return VerifyResult(
                            status="ok",
                            lag_seconds=round(arrived - committed, 3),
                            detail="restored and found the sentinel",
                        )
            except LitestreamTimeout:
                break
            wait = waits.next()
            if deadline.remaining() <= wait:
                break
            time.sleep(wait)
    return VerifyResult(
        status="lagging",
        detail=f"the sentinel did not reach the replica within {deadline.seconds:g} s; is replication running? "
        "(verify(sync=True) makes a one-shot backup itself)",
    )


def _replica_problem(ctx: RunContext, deadline: Deadline) -> str | None:
    """What the replica itself lacks (a gap in its chain, no backup at all), from one listing; None if nothing."""
    try:
        return ctx.line.check_replica(ctx, deadline).problem  # within verify's own deadline
    except PyltsError:
        return None


def _restored_copy_holds(ctx: RunContext, copy: Path, token: str, deadline: Deadline) -> bool:
    argv = ctx.line.restore_argv(ctx.db, ctx.replica, copy)
    ctx.run(argv, deadline, failure=RestoreError, action="restoring the replica to verify it")
    sqlite_files.check_integrity(copy, "quick")
    with contextlib.closing(sqlite_files.read_only(copy)) as conn:
        try:
            found = conn.execute(f"SELECT 1 FROM {SENTINEL_TABLE} WHERE token = ?", (token,)).fetchone()
        except sqlite3.OperationalError:  # the table itself has not arrived yet
            found = None
    sqlite_files.remove([copy, *sqlite_files.sidecars(copy)])
    return found is not None


def _write_sentinel(db: Path, token: str) -> bool:
    """Insert the sentinel; return whether its table had to be created."""
    with contextlib.closing(sqlite3.connect(db, timeout=BUSY_TIMEOUT)) as conn, conn:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SENTINEL_TABLE,)
        ).fetchone()
        conn.execute(f"CREATE TABLE IF NOT EXISTS {SENTINEL_TABLE} (token TEXT PRIMARY KEY, written_at REAL NOT NULL)")
        conn.execute(f"INSERT INTO {SENTINEL_TABLE} (token, written_at) VALUES (?, ?)", (token, time.time()))
    return exists is None


def _remove_sentinel(db: Path, token: str, *, drop_table: bool) -> None:
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=BUSY_TIMEOUT)) as conn, conn:
            if drop_table:
                conn.execute(f"DROP TABLE IF EXISTS {SENTINEL_TABLE}")
            else:
                conn.execute(f"DELETE FROM {SENTINEL_TABLE} WHERE token = ?", (token,))
    except sqlite3.Error as exc:
        logger.warning("could not remove the verify sentinel from %s: %s", db, exc)
