"""Atomic restore: replica -> a private folder beside the database -> checks -> into place.

At every moment the database path holds either what it held before or the
complete, checked restored copy; a failure leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from . import sqlite_files
from .deadline import Deadline
from .errors import DatabaseExists, InvalidArgument, NoBackupFound, RestoreError
from .lines.base import Plan
from .output import RunResult
from .pitr import timestamp_arg, txid_arg
from .reports import RestoreReport, parse_restore_report
from .sqlite_files import IntegrityCheck
from .timing import RESTORE_BUSY_TIMEOUT

logger = logging.getLogger(__name__)


def restore(
    ctx: Plan,
    *,
    overwrite: bool,
    integrity_check: IntegrityCheck,
    deadline: Deadline,
    timestamp: datetime | str | None = None,
    txid: int | str | None = None,
) -> RestoreReport:
    """Restore the replica of ``ctx.db`` into place, as of now or of a point; see `ConfigS3.restore_report`."""
    db = ctx.db
    point = _point(ctx, timestamp, txid)
    present = db.exists() and not sqlite_files.is_blank(db)  # an empty file holds nothing to protect
    if present and not overwrite:
        raise DatabaseExists(
            f"{db} already exists and restore() does not overwrite it; pass overwrite=True to replace it "
            "(the current file stays until the restored copy has passed its checks)"
        )
    if present:
        sqlite_files.require_sqlite_header(db)
        with sqlite_files.write_locked(db, busy_timeout=min(RESTORE_BUSY_TIMEOUT, deadline.remaining())):
            pass  # nobody is writing now: refuse early, before anything is downloaded or staged
    ctx.probe(deadline)
    generation = None if point else ctx.line.restored_position(ctx, deadline)
    with _staging_folder(db) as folder:
        staged = Path(folder) / db.name
        result = _run_restore(ctx, staged, point, deadline)
        if not staged.is_file():
            raise RestoreError(
                f"litestream reported a restore of {db.name} but wrote no file",
                argv=result.argv,
                returncode=result.returncode,
            )
        sqlite_files.check_integrity(staged, integrity_check)
        sqlite_files.checkpoint(staged)
        sqlite_files.fsync_file_and_dir(staged)
        reported = parse_restore_report(result.stdout)  # litestream 0.5 reports; 0.3 prints nothing
        report = RestoreReport(
            db_path=db,
            replica=ctx.replica.url(),
            txid=reported.txid if reported else None,
            generation=None if reported else generation,
            duration_ms=reported.duration_ms if reported else round(result.seconds * 1000),
            integrity_check=integrity_check,
        )
        _install(staged, db, report.txid or report.generation)
    logger.info(
        "restored %s (%s) from %s at %s in %.1f s",
        db,
        sqlite_files.size_words(db.stat().st_size),
        ctx.replica.label(),
        report.txid or report.generation or "a point in time",
        report.duration_ms / 1000,
    )
    return report


def _run_restore(ctx: Plan, staged: Path, point: dict[str, str], deadline: Deadline) -> RunResult:
    """litestream's restore into ``staged``; no backup at ``point`` says which point."""
    argv = ctx.line.restore_argv(ctx.db, ctx.replica, staged, **point)
    try:
        with ctx.line.temporary_config(ctx):
            return ctx.run(argv, deadline, failure=RestoreError, action=f"restore of {ctx.db.name}")
    except NoBackupFound as error:
        if not point:
            raise
        what = " ".join(f"{k} {v}" for k, v in point.items())
        raise NoBackupFound(
            f"the replica holds no backup of {ctx.db.name} at {what}: it is before the first backup "
            "or past the last one; `pylts contents` lists what the replica holds",
            argv=error.argv,
            returncode=error.returncode,
            output=error.output,
        ) from None


@contextlib.contextmanager
def _staging_folder(db: Path) -> Iterator[str]:
    """A private folder beside ``db`` for the restored copy; removed with whatever is in it."""
    sqlite_files.make_folder(db.parent)
    try:
        staging = tempfile.TemporaryDirectory(prefix=f".{db.name}.restore-", dir=db.parent)
    except OSError as exc:
        raise RestoreError(
            f"cannot write in {db.parent}: {exc.strerror or exc}; the database was not touched"
        ) from None
    with staging as folder:
        yield folder


def _point(ctx: Plan, timestamp: datetime | str | None, txid: int | str | None) -> dict[str, str]:
    """The checked ``-timestamp``/``-txid`` arguments, before anything touches the disk or network."""
    if timestamp is not None and txid is not None:
        raise InvalidArgument("give a timestamp or a txid, not both")
    if txid is not None:
        ctx.line.require_txids("restoring to a txid", instead="restore to a timestamp")
    if timestamp is not None:
        return {"timestamp": timestamp_arg(timestamp)}
    if txid is not None:
        return {"txid": txid_arg(txid)}
    return {}


def _install(staged: Path, db: Path, position: str | None) -> None:
    """Move the checked copy over ``db``, clearing what belonged to the old file first.

    The replica ``position`` restored (txid or generation; ``None`` for a point in time on 0.3)
    is noted beside it first, so the next boot knows where this copy stands.
    """
    if db.exists():
        sqlite_files.checkpoint(db)  # the old WAL is folded in, so dropping it loses nothing
    stale = [
        p
        for p in [*sqlite_files.sidecars(db), sqlite_files.litestream_meta(db), sqlite_files.restored_mark(db)]
        if p.exists()
    ]
    if stale:
        logger.warning("removing files left from an earlier database: %s", ", ".join(p.name for p in stale))
        sqlite_files.remove(stale)
    if position:
        sqlite_files.restored_mark(db).write_text(position + "\n", encoding="utf-8")
    os.replace(staged, db)
    sqlite_files.fsync_file_and_dir(db)
