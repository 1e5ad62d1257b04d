"""Moving a replica to the running line's layout on purpose (``pylts migrate``): 0.3's generations to 0.5's LTX.

litestream 0.5 restores a 0.3 replica but never writes to it: it starts its own files
beside the old ones. `migrate` makes that step deliberate and checked: restore the old
layout into a staging copy (full integrity check, rows counted), write that copy as a full
backup in the line's layout (at the same URL, or another), restore the new backup and
compare every row with the staged copy. The old files are left in place; the report says
where they are. A replica that already holds the line's layout has nothing to migrate.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from . import backup, sqlite_files
from .context import RunContext
from .deadline import Deadline
from .errors import AlreadyReplicating, BackupNotConfirmed, LitestreamTimeout
from .layout import Layout
from .replica import S3Replica
from .restore import restore
from .status import refuse_unreadable

logger = logging.getLogger(__name__)


class MigrateReport(BaseModel):
    """What `ConfigS3.migrate` did, or why there was nothing to do.

    ``migrated`` is True once the new backup restored identically to the old one;
    ``rows`` counts each table's rows in it; ``old_files`` is where the old layout's files
    still are (delete them once going back is no longer wanted).
    """

    model_config = ConfigDict(frozen=True)

    source: str
    target: str
    source_layout: Layout | None
    target_layout: Layout
    migrated: bool = False
    dry_run: bool = False
    detail: str
    rows: dict[str, int] = {}
    txid: str | None = None
    old_files: str | None = None
    duration_ms: int = 0


def migrate(
    ctx: RunContext, deadline: Deadline, *, target: S3Replica | None = None, dry_run: bool = False
) -> MigrateReport:
    """Move the replica of ``ctx`` to ``ctx.line``'s layout, at ``target`` (default: the same URL).

    Raises `ReplicaLayoutMismatch` when the replica holds a layout the line cannot read, and
    `BackupNotConfirmed` when the new backup does not restore to the same rows (the old files
    are untouched either way). It lists the store itself: without an access key and secret in the
    environment it raises `ListingUnavailable`. The local database is not read or changed.

    It refuses with `AlreadyReplicating` when a process on this machine replicates the database
    (the app must be stopped: step 1 of the guide), holds the replication lock meanwhile, and lists
    the target again just before writing: a line's own files that appeared during the restore (an
    app started elsewhere) stop it with `AlreadyReplicating` too, before anything is written.
    """
    started = time.monotonic()
    to = ctx if target is None else dataclasses.replace(ctx, replica=target)
    own = ctx.line.layout
    replicator = sqlite_files.live_replicator(ctx.db)
    if replicator is not None:
        raise AlreadyReplicating(
            f"{ctx.db} is being replicated by process {replicator} on this machine: stop the app before "
            "`pylts migrate`, so its last sync completes the replica and nothing writes beside the migration; "
            "nothing was changed",
            pid=replicator,
        )
    ctx.probe(deadline)
    found = ctx.replica_objects(deadline).layouts  # no guessing here: ListingUnavailable if it cannot list
    refuse_unreadable(ctx, found, doing="the migration")
    older = next(iter(sorted(found - {own})), None)
    there = found if target is None else to.replica_objects(deadline).layouts
    report = {"source": ctx.replica.url(), "target": to.replica.url(), "source_layout": older, "target_layout": own}
    if own in there:
        detail = f"{to.replica.url()} already holds litestream {own.value}'s layout: nothing to migrate"
        return MigrateReport(**report, detail=detail)
    if older is None:
        detail = f"{ctx.replica.url()} holds no backup in another litestream line's layout: nothing to migrate"
        return MigrateReport(**report, detail=detail)
    if dry_run:
        detail = (
            f"would restore litestream {older.value}'s backup at {ctx.replica.url()}, check it, and write it as a "
            f"full litestream {own.value} backup to {to.replica.url()}; nothing was changed"
        )
        return MigrateReport(**report, dry_run=True, detail=detail)
    with _replication_lock(ctx.db), _staging(ctx.db) as folder:
        staged, checked = folder / "from" / ctx.db.name, folder / "check" / ctx.db.name
        staged.parent.mkdir()
        checked.parent.mkdir()
        restore(dataclasses.replace(ctx, db=staged), overwrite=False, integrity_check="full", deadline=deadline)
        rows = row_counts(staged)
        logger.info("restored %s rows from litestream %s's layout at %s", sum(rows.values()), older.value, ctx.replica)
        if own in to.replica_objects(deadline).layouts:  # the restore took time: look again before writing
            raise AlreadyReplicating(
                f"litestream {own.value}'s files appeared at {to.replica.url()} while the migration restored the "
                f"litestream {older.value} backup: an app replicates there already. Nothing was written; stop it, "
                "then run `pylts migrate` again (it says whether anything is left to migrate)"
            )
        if not backup.backup_once(dataclasses.replace(to, db=staged), deadline):
            raise LitestreamTimeout(f"the backup to {to.replica.url()} did not finish within {deadline.seconds:g} s")
        written = restore(
            dataclasses.replace(to, db=checked), overwrite=False, integrity_check="full", deadline=deadline
        )
        if sqlite_files.content_digest(checked) != sqlite_files.content_digest(staged):
            raise BackupNotConfirmed(
                f"the litestream {own.value} backup at {to.replica.url()} does not restore to the rows of the "
                f"litestream {older.value} backup; the old files were left as they were: run `pylts migrate` again"
            )
    old_files = old_files_of(ctx.replica, older)
    detail = (
        f"restored {sum(rows.values())} rows from litestream {older.value}'s layout, wrote them as a full "
        f"litestream {own.value} backup and restored it identically. The old files stay in {old_files}: delete "
        f"them once you no longer want to go back to litestream {older.value} (e.g. `aws s3 rm --recursive "
        f"{old_files}`)"
    )
    logger.warning("migrated %s to litestream %s's layout: %s", ctx.replica, own.value, detail)
    return MigrateReport(
        **report,
        migrated=True,
        detail=detail,
        rows=rows,
        txid=written.txid,
        old_files=old_files,
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def old_files_of(replica: S3Replica, layout: Layout) -> str:
    """Where a replica's files in ``layout`` are, to delete them once going back is no longer wanted.

    >>> old_files_of(S3Replica("bkt", "backups/app.db"), Layout.V03)
    's3://bkt/backups/app.db/generations/'
    """
    folders = {Layout.V03: "generations/", Layout.V05: ""}  # 0.5's LTX files are in one folder per level
    return f"s3://{replica.bucket}/{replica.path.strip('/')}/{folders[layout]}"


def row_counts(db: Path) -> dict[str, int]:
    """Rows per table of ``db`` (SQLite's and litestream's own tables left out)."""
    with contextlib.closing(sqlite_files.read_only(db)) as conn:
        names = [
            name
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            if not name.startswith(("sqlite_", "_litestream_"))
        ]
        quoted = {name: '"' + name.replace('"', '""') + '"' for name in names}
        return {name: conn.execute(f"SELECT count(*) FROM {quoted[name]}").fetchone()[0] for name in names}


@contextlib.contextmanager
def _replication_lock(db: Path) -> Iterator[None]:
    """This machine's replication lock of ``db`` for the migration, when its folder exists (nothing is created else)."""
    if not db.parent.is_dir():
        yield
        return
    with sqlite_files.replication_lock(db):
        yield


@contextlib.contextmanager
def _staging(db: Path) -> Iterator[Path]:
    """A private folder for the copies, beside the database when its folder exists (same disk), removed after."""
    parent = db.parent if db.parent.is_dir() else None
    with tempfile.TemporaryDirectory(prefix=f".{db.name}.migrate-", dir=parent) as folder:
        yield Path(folder)
