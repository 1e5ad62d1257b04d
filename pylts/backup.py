"""One-shot backups, and the proof the replica holds every committed transaction.

How a line syncs once and how it proves the replica holds everything differ
(`Line.backup_once`, `Line.confirm_backup`); the checks and locks around them are here.
"""

from __future__ import annotations

import logging

from . import sqlite_files
from .deadline import Deadline
from .errors import BackupNotConfirmed, DatabaseNotFound, LitestreamTimeout
from .lines.base import Plan
from .timing import BUSY_TIMEOUT

logger = logging.getLogger(__name__)


def backup_once(ctx: Plan, deadline: Deadline) -> bool:
    """Back up ``ctx.db`` once. True when durable; False when time ran out with no cause known."""
    return _backup(ctx, deadline) is not None


def timed_backup(ctx: Plan, deadline: Deadline, *, delete: bool) -> bool:
    """`backup_once`, then, with ``delete``, `delete_if_confirmed` within the same deadline (docs/time.md).

    A confirmation that runs out of time raises `BackupNotConfirmed`: the database is kept.
    """
    if _backup(ctx, deadline) is None:
        return False
    if delete:
        try:
            delete_if_confirmed(ctx, deadline)
        except LitestreamTimeout as exc:  # only the confirmation can run out of time this way
            raise BackupNotConfirmed(
                f"the backup of {ctx.db} is done, but confirming that the replica holds all of it did not finish "
                f"within the {deadline.seconds:g} s deadline; {ctx.db} was kept: run timed_replicate again with "
                "a longer timeout",
                argv=exc.argv,
                output=exc.output,
            ) from None
    return True


def _backup(ctx: Plan, deadline: Deadline) -> int | None:
    """Back up ``ctx.db`` once: the newest transaction the run reported the replica holds (0: not said), or None.

    None means time ran out with no cause known; a known cause is raised.
    """
    if not ctx.db.is_file():
        raise DatabaseNotFound(
            f"{ctx.db} does not exist, so there is nothing to back up; check DB_SQLITE and the folder"
        )
    sqlite_files.require_sqlite_header(ctx.db)
    ctx.probe(deadline)
    with sqlite_files.replication_lock(ctx.db):
        return ctx.line.backup_once(ctx, deadline)


def delete_if_confirmed(ctx: Plan, deadline: Deadline) -> None:
    """Delete the local database, but only once the replica provably holds all of it.

    Under SQLite's write lock (so nothing can commit meanwhile) the line confirms it:
    on 0.5 from the replica's own files (their chain unbroken up to the database's last
    transaction), on 0.3 by restoring the replica into a temporary folder and comparing every row.
    """
    busy_timeout = min(BUSY_TIMEOUT, deadline.remaining())  # waiting for a writer counts against the deadline
    with sqlite_files.replication_lock(ctx.db), sqlite_files.write_locked(ctx.db, busy_timeout):
        ctx.line.confirm_backup(ctx, deadline)
        sqlite_files.remove(sqlite_files.database_files(ctx.db))
    logger.info("deleted %s after confirming its backup", ctx.db)
