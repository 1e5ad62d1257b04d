"""One-shot backups, and the proof the replica holds every committed transaction.

litestream 0.5 does one sync with ``replicate -once``. litestream 0.3 has no such
mode, so pylts follows its log until the replica's position covers the database's,
then stops it gracefully (SIGTERM makes it sync once more before it exits).
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from pathlib import Path

from . import sqlite_files
from .commands import replicate_argv, restore_argv
from .context import RunContext
from .errors import BackupNotConfirmed, DatabaseNotFound, LitestreamTimeout, ReplicationError
from .events import SyncTracker
from .output import error_for, error_from_text, last_error
from .runner import Deadline
from .status import latest_txid, ltx_files, unbroken_txid
from .timing import BUSY_TIMEOUT

logger = logging.getLogger(__name__)


def backup_once(ctx: RunContext, deadline: Deadline) -> bool:
    """Back up ``ctx.db`` once. True when durable; False when time ran out with no cause known."""
    return _backup(ctx, deadline) is not None


def timed_backup(ctx: RunContext, deadline: Deadline, *, delete: bool) -> bool:
    """`backup_once`, then, with ``delete``, `delete_if_confirmed` helped by what the backup run reported."""
    reported = _backup(ctx, deadline)
    if reported is None:
        return False
    if delete:
        delete_if_confirmed(ctx, deadline, reported=reported)  # within the caller's deadline (docs/time.md)
    return True


def _backup(ctx: RunContext, deadline: Deadline) -> int | None:
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
        if ctx.litestream.is_legacy:
            return 0 if _sync_legacy(ctx, deadline) else None
        return _sync_once(ctx, deadline)


def _sync_once(ctx: RunContext, deadline: Deadline) -> int | None:
    """litestream 0.5: ``replicate -once``, one sync of the database, then exit.

    Returns the newest transaction the run reported the replica holds (at debug level it
    names every file it uploads and the replica's position), or None when time ran out.
    """
    argv = replicate_argv(ctx.litestream, ctx.db, ctx.replica, once=True)
    try:
        result = ctx.with_env(LOG_LEVEL="debug").run(argv, deadline)
    except LitestreamTimeout as timeout:
        _raise_reported_error(last_error(timeout.output), timeout.argv)
        logger.warning("backup of %s did not finish within %g s", ctx.db, deadline.seconds)
        return None
    if result.returncode != 0:
        raise error_for(result, ReplicationError, f"backup of {ctx.db.name}")
    return reported_txid(result.stdout)


#: The replica's position in ``replicate -once``'s debug lines: a file uploaded, or litestream's replica position.
_REPLICA_POSITION = re.compile(
    r'msg="(?:ltx file uploaded|replica sync)" .*?\b(?:maxTXID|txid\.replica)=([0-9a-f]{16})\b'
)


def reported_txid(output: str) -> int:
    """The newest transaction a litestream 0.5 run reported the replica holds; 0 when it said nothing.

    >>> reported_txid(
    ...     'level=DEBUG msg="ltx file uploaded" db=a.db replica=s3 level=0 minTXID=0000000000000001 '
    ...     "maxTXID=000000000000000a size=4096\\n"
    ...     'level=DEBUG msg="replica sync" db=a.db replica=s3 txid.replica=0000000000000009 txid.db=000000000000000a'
    ... ), reported_txid('level=INFO msg="one-shot replication complete"')
    (10, 0)
    """
    return max((int(found.group(1), 16) for found in _REPLICA_POSITION.finditer(output)), default=0)


def _sync_legacy(ctx: RunContext, deadline: Deadline) -> bool:
    """litestream 0.3: replicate until the replica covers the database, then stop (a last sync).

    A named cause (bucket missing, credentials refused...) ends the wait at once;
    other errors are retried by litestream, and reported if time runs out.
    """
    tracker = SyncTracker([ctx.db])
    started = time.monotonic()
    argv = replicate_argv(ctx.litestream, ctx.db, ctx.replica)
    with ctx.legacy_config(), ctx.process(argv, on_line=tracker.feed_output) as proc:
        synced = False
        while not synced and proc.returncode is None and deadline.remaining() > 1.0 and not tracker.named_error:
            synced = tracker.wait(since=started, timeout=min(deadline.remaining() - 1.0, 0.2))
        reported = tracker.named_error or tracker.last_error  # before the shutdown pylts asks for
        code = proc.stop(grace=max(deadline.remaining(), 1.0))  # the last sync may use what time is left
    if synced and code == 0:
        return True
    _raise_reported_error(reported or "", proc.redacted_argv)
    if synced or deadline.remaining() > 1.0:
        raise ReplicationError(
            f"litestream exited with {code} before the backup of {ctx.db.name} was complete: "
            f"{tracker.shutdown_error or tracker.last_error or 'no error printed'}",
            argv=proc.redacted_argv,
            returncode=code,
        )
    logger.warning("backup of %s did not finish within %g s", ctx.db, deadline.seconds)
    return False


def _raise_reported_error(text: str, argv: list[str]) -> None:
    """Raise the typed error for what litestream reported; nothing reported, nothing raised."""
    if text:
        raise error_from_text(text, ReplicationError, "backup failed", argv=argv)


def delete_if_confirmed(ctx: RunContext, deadline: Deadline, *, reported: int = 0) -> None:
    """Delete the local database, but only once the replica provably holds all of it.

    Under SQLite's write lock (so nothing can commit meanwhile), pylts checks on
    0.5 that litestream's newest local LTX file covers the WAL up to its last
    commit and that the replica holds that transaction: as the backup run
    ``reported`` it (the upload of that file), else as a listing of the replica
    shows. On 0.3 it restores the replica into a temporary folder and compares every row.
    """
    busy_timeout = min(BUSY_TIMEOUT, deadline.remaining())  # waiting for a writer counts against the deadline
    with sqlite_files.replication_lock(ctx.db), sqlite_files.write_locked(ctx.db, busy_timeout):
        if ctx.litestream.is_legacy:
            _confirm_by_restore(ctx, deadline)
        else:
            _confirm_by_position(ctx, deadline, reported)
        sqlite_files.remove(sqlite_files.database_files(ctx.db))
    logger.info("deleted %s after confirming its backup", ctx.db)


def _confirm_by_position(ctx: RunContext, deadline: Deadline, reported: int) -> None:
    captured = sqlite_files.latest_ltx(ctx.db)
    wal = sqlite_files.wal_position(ctx.db)
    if captured is None or wal is None or captured.wal_salts != wal.salts or captured.wal_end < wal.end:
        raise BackupNotConfirmed(
            f"{ctx.db} has transactions litestream has not captured (it changed during or after the backup); "
            "it was kept: run timed_replicate again once writers are done"
        )
    held = reported if reported >= captured.max_txid else latest_txid(ctx, deadline, failure=BackupNotConfirmed)
    if held < captured.max_txid:
        raise BackupNotConfirmed(
            f"the replica holds transactions up to {held}, the database up to {captured.max_txid}; "
            f"{ctx.db} was kept: run timed_replicate again"
        )


def last_sync(ctx: RunContext, deadline: Deadline) -> str | None:
    """litestream 0.5, after replication stopped: one ``replicate -once``, then `unreplicated`; why not all is there."""
    ctx.probe(deadline)
    if _sync_once(ctx, deadline) is None:
        return f"the one-shot sync of {ctx.db.name} did not finish within {deadline.seconds:g} s"
    return unreplicated(ctx, deadline)


def unreplicated(ctx: RunContext, deadline: Deadline) -> str | None:
    """litestream 0.5, after it stopped: why the replica may not hold every transaction of ``ctx.db``, or ``None``.

    Asks the replica itself (one listing) rather than trusting what litestream last
    reported: its files must hold, with no gap, every transaction up to the newest one
    litestream captured locally, and the WAL must hold no commit past the newest local LTX file.
    """
    captured = sqlite_files.latest_ltx(ctx.db)
    wal = sqlite_files.wal_position(ctx.db)
    uncaptured = (
        captured is not None
        and wal is not None
        and wal.end > sqlite_files.WAL_HEADER_SIZE
        and (captured.wal_salts != wal.salts or captured.wal_end < wal.end)
    )
    if uncaptured:
        return f"{ctx.db} has commits litestream did not capture before it stopped"
    local = sqlite_files.local_txid(ctx.db) or 0
    held = unbroken_txid(ltx_files(ctx, deadline, failure=BackupNotConfirmed))
    if held < local:
        return f"the replica holds transactions of {ctx.db.name} up to {held}, litestream captured up to {local}"
    return None


def _confirm_by_restore(ctx: RunContext, deadline: Deadline) -> None:
    with tempfile.TemporaryDirectory(prefix=f".{ctx.db.name}.confirm-", dir=ctx.db.parent) as folder:
        copy = Path(folder) / ctx.db.name
        with ctx.legacy_config():
            result = ctx.run(restore_argv(ctx.litestream, ctx.db, ctx.replica, copy), deadline)
        if result.returncode != 0:
            raise error_for(result, BackupNotConfirmed, "restoring the replica to confirm the backup")
        if sqlite_files.content_digest(copy) != sqlite_files.content_digest(ctx.db):
            raise BackupNotConfirmed(
                f"the replica's copy differs from {ctx.db} (it changed during or after the backup); "
                "it was kept: run timed_replicate again once writers are done"
            )
