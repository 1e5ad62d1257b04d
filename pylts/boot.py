"""The boot decision: compare the local database with its replica before anything opens it.

litestream trusts whatever database it is pointed at. A stale volume (behind the replica)
that an app boots on is replicated over the newer history; a changed ``REPLICA_URL`` makes a
replicated database look brand new; a copy from elsewhere starts a second history. So
`ensure_restored` looks at both sides first, with one listing of the replica:

| local | replica | decision |
| --- | --- | --- |
| missing (or an empty 0-byte file) | has a backup | restore |
| missing, no trace of earlier replication | empty | fresh |
| missing, no trace of earlier replication | not listed by pylts, none of the line's files | try a restore, else fresh |
| present, restored from another line's layout (pylts' mark) | not listed, none of the line's files | existing |
| missing or present, replicated before (litestream's or pylts' marks) | empty | refuse: `ReplicaMissing` |
| present, never replicated | empty | existing: its first replication follows |
| present, at or ahead of the replica | has a backup | existing |
| present, behind the replica | has a backup | refuse: `StaleDatabase` |
| present, from another history | has a backup | refuse: `ForeignDatabase` |
| present, not a SQLite database | any | refuse: `DatabaseInvalid` |
| present, restored from the second destination by pylts (its mark) | any this line reads | kept: replicated as it is |
| any, replicated by this line before (its litestream metadata) | only another line's | refuse: `ReplicaMissing` |
| missing | only another line's layout, which this line reads | restore from it, then replicate in this line's layout |
| present, restored from it by pylts (its mark) | only another line's layout | existing |
| present, anything else | only another line's layout, which this line reads | refuse: `ReplicaLayoutMismatch` |
| any | a layout this line cannot read | refuse: `ReplicaLayoutMismatch`, whatever the policy |

A replica's layout is what the litestream line that wrote it leaves in the bucket: 0.3's
``generations/``, 0.5's LTX levels. Both are looked for (`pylts.status.replica_layouts`), so a
replica in the other line's layout is never taken for an empty one. litestream 0.5 restores a
0.3 replica: a missing database comes back from it, and replication goes on in 0.5's layout
beside the old files, which stay. A database that exists is not compared with a 0.3 replica (its
position cannot be), so it is refused until a policy or ``pylts migrate`` says which copy wins.
0.3 cannot read 0.5's files: it refuses rather than start a second history beside them.

A position is a transaction id on litestream 0.5 and a generation on 0.3. The local one comes
from litestream's metadata beside the database, else from the mark pylts leaves after a
restore (``.app.db-pylts-position``). A `BootPolicy` turns a refusal into action:
``quarantine`` moves the local files aside (never deletes them) and restores, ``adopt``
keeps the local copy and lets it become the replica's newest state.

>>> from pylts.binary import Litestream, Version
>>> from pylts.lines import line_for
>>> line = line_for(Litestream(Path("litestream"), Version(0, 5, 17)))
>>> decide(Local(present=True, position="0000000000000005"), Replica(("0000000000000009",)), line.standing)
<Decision.STALE: 'stale'>
>>> decide(Local(present=False, position=None), Replica(()), line.standing)
<Decision.FRESH: 'fresh'>
>>> decide(Local(present=False, position=None), Replica((), older=Layout.V03), line.standing)
<Decision.CONVERT: 'convert'>
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import secondary, sqlite_files
from .boot_report import BootPolicy as BootPolicy
from .boot_report import BootReport as BootReport
from .boot_report import RestoreOutcome as RestoreOutcome
from .boot_report import as_boot_policy as as_boot_policy
from .context import RunContext
from .deadline import Deadline
from .errors import (
    BootRefused,
    BucketNotFound,
    DatabaseLocked,
    ForeignDatabase,
    NoBackupFound,
    ReplicaLayoutMismatch,
    ReplicaMissing,
    StaleDatabase,
)
from .layout import Layout
from .lines import Standing
from .reports import RestoreReport
from .restore import restore
from .sqlite_files import IntegrityCheck
from .status import refuse_unreadable, replica_layouts
from .timing import LOCK_POLL

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Local:
    """The local side: is there a database with data, and where was it last replicated or restored.

    ``marked``: the position is only pylts' restore mark, which either line writes (a 0.3
    generation on a machine that ran 0.3), not litestream's own metadata of the running line.
    """

    present: bool
    position: str | None
    marked: bool = False

    @property
    def replicated_by_line(self) -> bool:
        """Whether the running line replicated this copy before (its own metadata says where)."""
        return self.position is not None and not self.marked and self.position not in _CONVERSION_MARKS


@dataclass(frozen=True)
class Replica:
    """The replica side: its positions in the line's layout, newest first (one txid on 0.5, every generation
    on 0.3); ``older``: another line's layout the line reads, found where its own is missing."""

    positions: tuple[str, ...]
    older: Layout | None = None
    #: False when pylts could not list the store itself (credentials only in the AWS chain): another line's
    #: layout was not looked for, so an empty ``positions`` does not prove the replica empty.
    listed: bool = True

    @property
    def latest(self) -> str | None:
        return self.positions[0] if self.positions else None

    @property
    def has_backup(self) -> bool:
        """Whether a restore finds anything (in the line's layout, or in the older one it reads)."""
        return bool(self.positions) or self.older is not None


class Decision(str, enum.Enum):
    RESTORE = "restore"
    FRESH = "fresh"
    EXISTING = "existing"
    MISSING = "missing"  # the replica is empty although this database was replicated before
    STALE = "stale"  # the local database is behind the replica
    FOREIGN = "foreign"  # the local database belongs to another history than the replica's
    CONVERT = "convert"  # restore from another line's layout, then replicate in the line's own
    LAYOUT = "layout"  # the local database exists, the replica holds only another line's layout
    UNLISTED = "unlisted"  # missing, and the replica could not be listed: restore whatever is there, else fresh


def decide(local: Local, replica: Replica, standing: Callable[[str, tuple[str, ...]], Standing]) -> Decision:
    """The row of the table above that ``local`` and ``replica`` fall in (pure: no I/O).

    ``standing`` is the line's comparison of two positions (`Line.standing`).
    """
    if not replica.positions and replica.older is not None:
        if local.replicated_by_line:  # the line's own files are gone (or REPLICA_URL changed): the old ones are older
            return Decision.MISSING
        if not local.present:
            return Decision.CONVERT
        return Decision.EXISTING if local.position == converted_from(replica.older) else Decision.LAYOUT
    if not replica.positions:
        if not replica.listed and local.position in _CONVERSION_MARKS:  # restored from a layout not looked for
            return Decision.EXISTING if local.present else Decision.UNLISTED
        if local.position is not None:
            return Decision.MISSING
        if local.present:
            return Decision.EXISTING
        return Decision.FRESH if replica.listed else Decision.UNLISTED
    if not local.present:
        return Decision.RESTORE
    if local.position is None or local.position in _CONVERSION_MARKS:  # not a position in this replica's history
        return Decision.FOREIGN
    return _DECISIONS[standing(local.position, replica.positions)]


def converted_from(layout: Layout) -> str:
    """The position pylts marks a copy restored from another line's ``layout`` with (that layout has none to give).

    >>> converted_from(Layout.V03)
    'layout-0.3'
    """
    return f"layout-{layout.value}"


_CONVERSION_MARKS = frozenset(converted_from(layout) for layout in Layout)
_DECISIONS = {Standing.CURRENT: Decision.EXISTING, Standing.BEHIND: Decision.STALE, Standing.FOREIGN: Decision.FOREIGN}


def ensure_restored(
    ctx: RunContext, *, integrity_check: IntegrityCheck, deadline: Deadline, policy: BootPolicy = BootPolicy.REFUSE
) -> BootReport:
    """Decide with the table above and act; safe when several processes boot at once.

    The processes take turns on a lock of the database's folder: the first restores,
    the others then find the database there, current.
    """
    sqlite_files.make_folder(ctx.db.parent)
    with _folder_lock(ctx.db.parent, deadline):
        replicator = sqlite_files.live_replicator(ctx.db)
        if replicator is not None:
            return _defer_to(replicator, ctx.db)
        local = _local(ctx)
        try:
            replica = _replica(ctx, deadline)
        except BucketNotFound:
            fallback = None if local.present else _from_secondary(ctx, integrity_check, deadline, "has no bucket")
            if fallback is None:
                raise
            return fallback
        if local.present and local.marked and local.position == SECONDARY_MARK:
            return _secondary_copy(ctx, replica, policy, integrity_check, deadline)
        decision = decide(local, replica, ctx.line.standing)
        if decision is Decision.FRESH:  # nothing local, the primary listed and empty: the second destination's turn
            fallback = _from_secondary(ctx, integrity_check, deadline, "holds no backup")
            if fallback is not None:
                return fallback
        seen = {
            "local_position": local.position,
            "replica_position": replica.latest,
            "replica_layout": replica.older or (ctx.line.layout if replica.positions else None),
        }
        logger.info("boot of %s: %s (%s)", ctx.db, decision.value, _seen(local, replica, ctx.line.position_unit))
        if decision is Decision.EXISTING:
            return BootReport(outcome=RestoreOutcome.EXISTING, **seen)
        if decision is Decision.CONVERT:
            logger.warning(
                "the replica %s holds only litestream %s's layout: restoring %s from it with litestream %s; "
                "replication goes on in %s's layout beside the old files, which are left in place "
                "(`pylts migrate` writes a full %s copy on purpose)",
                ctx.replica.url(),
                replica.older.value if replica.older else "?",
                ctx.db.name,
                ctx.litestream.version,
                ctx.line.layout.value,
                ctx.line.layout.value,
            )
        if decision is Decision.UNLISTED:
            restored, layout = _restore_unlisted(ctx, integrity_check, deadline)
            outcome = RestoreOutcome.RESTORED if restored else RestoreOutcome.FRESH
            return BootReport(outcome=outcome, restore_report=restored, **{**seen, "replica_layout": layout})
        if decision in (Decision.RESTORE, Decision.FRESH, Decision.CONVERT):
            restored = _restore_or_start_fresh(ctx, replica, integrity_check, deadline)
            outcome = RestoreOutcome.RESTORED if restored else RestoreOutcome.FRESH
            return BootReport(outcome=outcome, restore_report=restored, **seen)
        if policy is BootPolicy.ADOPT:
            logger.warning(
                "keeping %s although %s (policy adopt): it becomes the replica's newest state", ctx.db, _what(decision)
            )
            _forget_position(ctx.db)
            return BootReport(outcome=RestoreOutcome.ADOPTED, **seen)
        if policy is BootPolicy.QUARANTINE:
            moved_to = _quarantine(ctx.db)
            logger.warning(
                "moved %s aside to %s because %s (policy quarantine)", ctx.db.name, moved_to, _what(decision)
            )
            restored = _restore_or_start_fresh(ctx, replica, integrity_check, deadline)
            return BootReport(outcome=RestoreOutcome.QUARANTINED, moved_to=moved_to, restore_report=restored, **seen)
        raise _refusal(ctx, decision, local, replica)


def _from_secondary(
    ctx: RunContext, integrity_check: IntegrityCheck, deadline: Deadline, primary_state: str
) -> BootReport | None:
    """With no local database and a primary replica that is missing or empty, restore the second destination's
    newest snapshot (loudly); None when there is no second destination or it holds no snapshot.

    Never called with a local database: an older copy never replaces one. A second store that cannot
    be listed raises: starting fresh could be the start of losing the only copy left.
    """
    if ctx.secondary is None:
        return None
    try:
        latest = secondary.latest_snapshot(ctx.secondary, deadline)
    except NoBackupFound:
        logger.info("the second destination %s holds no snapshot either", ctx.secondary.replica.label())
        return None
    report = restore_from_secondary(
        ctx.secondary, latest, ctx.db, overwrite=True, integrity_check=integrity_check, deadline=deadline
    )
    _forget_position(ctx.db)  # replication starts on it now, onto a primary without a backup: nothing to judge later
    logger.warning(
        "the primary replica %s %s: restored %s from the second destination's snapshot %s, taken %s (%.0f s ago); "
        "writes made after it are not in this copy; replication goes on to the primary, as a new history",
        ctx.replica.label(),
        primary_state,
        ctx.db.name,
        latest.label,
        latest.taken_at.isoformat(timespec="seconds"),
        latest.age(),
    )
    return BootReport(outcome=RestoreOutcome.RESTORED, restore_report=report, from_secondary=latest.label)


#: The position mark (``.app.db-pylts-position``) of a database restored from the second destination.
SECONDARY_MARK = "second-destination"


def restore_from_secondary(
    copies: RunContext,
    snapshot: secondary.SecondarySnapshot,
    db: Path,
    *,
    overwrite: bool,
    integrity_check: IntegrityCheck,
    deadline: Deadline,
) -> RestoreReport:
    """Restore ``snapshot`` of the second destination ``copies`` into ``db``, marked as a copy from there.

    As `pylts.restore.restore`; both `ConfigS3.restore_report` (``source="secondary"``) and the
    boot's fallback restore through here.

    The restore marks ``db`` with the position it restored, but a snapshot's position is one of
    its own folder's history, not of the primary replica's: kept, it would make the next boot
    judge the database against the primary by a number from another history (a replica taken
    for missing, the restored copy for stale or foreign). `SECONDARY_MARK` replaces it: the next
    boot replicates the copy as it is (see `pylts.boot`).
    """
    plan = secondary.snapshot_context(copies, snapshot, db)
    report = restore(plan, overwrite=overwrite, integrity_check=integrity_check, deadline=deadline)
    sqlite_files.restored_mark(db).write_text(SECONDARY_MARK + "\n", encoding="utf-8")
    return report


def _secondary_copy(
    ctx: RunContext, replica: Replica, policy: BootPolicy, integrity_check: IntegrityCheck, deadline: Deadline
) -> BootReport:
    """The database was restored from the second destination on purpose (``restore --from secondary``).

    Over a primary without a backup it is replicated as it is. Over a primary that holds one, which
    may be newer, replicating the copy would put an older state over a newer backup: refused, unless
    the policy says which side wins (``adopt`` the copy, ``quarantine`` it and restore the primary).
    Either way the mark goes, so a later boot judges the database by litestream's own metadata.
    """
    layout = replica.older or (ctx.line.layout if replica.positions else None)
    seen = {"replica_position": replica.latest, "replica_layout": layout}
    if not replica.has_backup or policy is BootPolicy.ADOPT:
        if replica.has_backup:
            logger.warning(
                "keeping %s, restored from the second destination, although the primary replica %s holds a backup "
                "(at %s %s; policy adopt): it becomes the replica's newest state",
                ctx.db,
                ctx.replica.label(),
                ctx.line.position_unit,
                replica.latest or "?",
            )
        _forget_position(ctx.db)
        outcome = RestoreOutcome.ADOPTED if replica.has_backup else RestoreOutcome.EXISTING
        return BootReport(outcome=outcome, **seen)
    if policy is BootPolicy.QUARANTINE:
        moved_to = _quarantine(ctx.db)
        logger.warning(
            "moved %s, restored from the second destination, aside to %s (policy quarantine)", ctx.db.name, moved_to
        )
        restored = _restore_or_start_fresh(ctx, replica, integrity_check, deadline)
        return BootReport(outcome=RestoreOutcome.QUARANTINED, moved_to=moved_to, restore_report=restored, **seen)
    raise ForeignDatabase(
        f"{ctx.db} was restored from the second destination, and the primary replica {ctx.replica.label()} holds a "
        f"backup (at {ctx.line.position_unit} {replica.latest or '?'}) that may be newer. Nothing was changed. To make "
        f"this copy the newest state, set PYLTS_BOOT_POLICY=adopt; to take the primary's copy instead, "
        f"PYLTS_BOOT_POLICY=quarantine moves {ctx.db.name} aside and restores it",
        local_position=SECONDARY_MARK,
        replica_position=replica.latest,
    )


def _seen(local: Local, replica: Replica, unit: str) -> str:
    """What the boot decision was made on, in words.

    >>> _seen(Local(present=False, position=None), Replica(()), "transaction")
    'no local database; the replica holds no backup'
    >>> _seen(Local(present=True, position="000000000000000a"), Replica(("0000000000000009",)), "transaction")
    'the local database is at transaction 000000000000000a; the replica at transaction 0000000000000009'
    """
    if not local.present:
        here = "no local database"
    elif local.position is None:
        here = "a local database litestream has not replicated"
    else:
        here = f"the local database is at {unit} {local.position}"
    if replica.latest is not None:
        there = f"the replica at {unit} {replica.latest}"
    elif replica.older is not None:
        there = f"the replica holds litestream {replica.older.value}'s layout"
    else:
        there = "the replica holds no backup" if replica.listed else "the replica could not be listed"
    return f"{here}; {there}"


def _defer_to(replicator: int, db: Path) -> BootReport:
    logger.info(
        "boot of %s: process %s on this machine replicates it: it is live, so it is left alone, not compared",
        db,
        replicator,
    )
    return BootReport(outcome=RestoreOutcome.REPLICATING)


def _restore_or_start_fresh(
    ctx: RunContext, replica: Replica, integrity_check: IntegrityCheck, deadline: Deadline
) -> RestoreReport | None:
    """Restore the replica's backup (its report), or clear the way for a new database (``None``)."""
    if replica.has_backup:
        report = restore(ctx, overwrite=True, integrity_check=integrity_check, deadline=deadline)
        if replica.older is not None and not replica.positions:  # a later boot knows this copy came from there
            sqlite_files.restored_mark(ctx.db).write_text(converted_from(replica.older) + "\n", encoding="utf-8")
        return report
    stale = [
        p
        for p in [
            *sqlite_files.sidecars(ctx.db),
            sqlite_files.litestream_meta(ctx.db),
            sqlite_files.restored_mark(ctx.db),
        ]
        if p.exists()
    ]
    sqlite_files.remove(stale)  # a new database must not meet an old WAL or an old position
    logger.debug("no backup of %s yet: starting fresh", ctx.db.name)  # the boot decision said so at INFO
    return None


def _restore_unlisted(
    ctx: RunContext, integrity_check: IntegrityCheck, deadline: Deadline
) -> tuple[RestoreReport | None, Layout | None]:
    """A missing database over a replica pylts could not list, which holds none of the line's files: the
    other layout the line reads may be there (a 0.3 replica under 0.5), so a restore is tried; none: fresh."""
    older = next(
        (layout for layout in sorted(Layout) if layout is not ctx.line.layout and ctx.line.reads(layout)), None
    )
    if older is not None:
        try:
            restored = _restore_or_start_fresh(ctx, Replica((), older=older), integrity_check, deadline)
        except NoBackupFound:
            logger.info("the replica %s could not be listed and a restore found no backup", ctx.replica.url())
        else:
            logger.warning(
                "the replica %s could not be listed, holds none of litestream %s's files, and a restore found a "
                "backup: litestream %s's layout, restored; replication goes on in %s's layout beside the old files",
                ctx.replica.url(),
                ctx.line.layout.value,
                older.value,
                ctx.line.layout.value,
            )
            return restored, older
    return _restore_or_start_fresh(ctx, Replica(()), integrity_check, deadline), None


def _local(ctx: RunContext) -> Local:
    db = ctx.db
    if sqlite_files.is_blank(db):
        logger.warning("%s is an empty file (0 bytes): treating the database as missing", db)
        present = False
    else:
        present = db.exists()
        if present:
            sqlite_files.require_sqlite_header(db)  # never boot (and so replicate) on a file that is not SQLite
    position = ctx.line.local_position(db)
    if position is not None:
        return Local(present=present, position=position)
    with contextlib.suppress(FileNotFoundError):
        position = sqlite_files.restored_mark(db).read_text(encoding="utf-8").strip() or None
    return Local(present=present, position=position, marked=position is not None)


def _replica(ctx: RunContext, deadline: Deadline) -> Replica:
    """The replica in the line's layout; failing that, in another it reads. A layout it cannot read refuses."""
    ctx.probe(deadline)
    layouts = replica_layouts(ctx, deadline)
    if layouts is None:  # not listed: the line's own view, as before both layouts were looked for
        return Replica(ctx.line.replica_positions(ctx, deadline), listed=False)
    refuse_unreadable(ctx, layouts, doing=f"the boot of {ctx.db.name}")
    positions = ctx.line.replica_positions(ctx, deadline) if ctx.line.layout in layouts else ()
    older = None if positions else next(iter(sorted(layouts - {ctx.line.layout})), None)
    return Replica(positions, older)


def _forget_position(db: Path) -> None:
    """For adopt: drop the old position, so the kept copy is not taken for stale again at the next boot."""
    sqlite_files.remove([sqlite_files.restored_mark(db)])


def _quarantine(db: Path) -> Path:
    """Move ``db`` and every file that belongs to it into a dated folder beside it; nothing is deleted.

    The WAL is folded into the database first, so the one file moved first holds every committed row.
    """
    if db.exists():
        sqlite_files.checkpoint(db)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = db.with_name(f"{db.name}.quarantine-{stamp}")
    folder.mkdir()
    for path in sqlite_files.database_files(db):
        if path.exists():
            os.replace(path, folder / path.name)
    return folder


def _what(decision: Decision) -> str:
    return {
        Decision.MISSING: "the replica holds no backup although this database was replicated before",
        Decision.STALE: "it is behind its replica",
        Decision.FOREIGN: "it is not from the replica's history",
        Decision.LAYOUT: "the replica holds only another litestream line's layout",
    }[decision]


def _refusal(ctx: RunContext, decision: Decision, local: Local, replica: Replica) -> BootRefused:
    db, url = ctx.db, ctx.replica.url()
    unit = ctx.line.position_unit
    if decision is Decision.MISSING:
        held = (
            f"holds no backup in litestream {ctx.line.layout.value}'s layout (only litestream "
            f"{replica.older.value}'s older files, which restoring would roll {db.name} back)"
            if replica.older
            else "holds no backup"
        )
        return ReplicaMissing(
            f"the replica {url} {held}, but {db} was replicated before (local {unit} {local.position}): "
            "REPLICA_URL changed, or the bucket was emptied. Nothing was changed. Either fix REPLICA_URL, or, "
            "if the new replica is meant, set PYLTS_BOOT_POLICY=adopt to replicate this copy to it",
            local_position=local.position,
        )
    if decision is Decision.LAYOUT:
        older = replica.older.value if replica.older else "?"
        return ReplicaLayoutMismatch(
            f"{db} exists, and its replica {url} holds only litestream {older}'s layout, which litestream "
            f"{ctx.litestream.version} restores but cannot compare this copy with. Nothing was changed. If this copy "
            f"is the newest state (this machine ran litestream {older} until now), PYLTS_BOOT_POLICY=adopt keeps it "
            f"and replicates it in {ctx.line.layout.value}'s layout; to take the replica's copy instead, "
            f"PYLTS_BOOT_POLICY=quarantine moves {db.name} aside and restores it from the {older} files, or "
            f"`pylts migrate` first moves the replica to {ctx.line.layout.value}'s layout on purpose. The old files "
            "stay in the bucket either way",
            layout=older,
            local_position=local.position,
        )
    ways = (
        f"Nothing was changed. Either take the replica's copy: PYLTS_BOOT_POLICY=quarantine moves {db.name} and its "
        f"files aside to {db.name}.quarantine-<time> and restores; or keep the local copy and make it the replica's "
        "newest state on purpose: PYLTS_BOOT_POLICY=adopt"
    )
    if decision is Decision.STALE:
        return StaleDatabase(
            f"{db} is behind its replica (local {unit} {local.position}, replica {unit} {replica.latest}): it was "
            f"written from elsewhere since, and booting on this copy would roll the replica back. {ways}",
            local_position=local.position,
            replica_position=replica.latest,
        )
    where = (
        f"local {unit} {local.position} is not in the replica"
        if local.position
        else "it was never replicated or restored here"
    )
    return ForeignDatabase(
        f"{db} is not from the history of its replica {url} ({where}; replica {unit} {replica.latest}): booting on it "
        f"would replace the replica's newest state with it. {ways}",
        local_position=local.position,
        replica_position=replica.latest,
    )


@contextlib.contextmanager
def _folder_lock(folder: Path, deadline: Deadline) -> Iterator[None]:
    fd = os.open(folder, os.O_RDONLY)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline.expired:
                    raise DatabaseLocked(
                        f"another process kept {folder} locked for {deadline.seconds:g} s while restoring; "
                        "try again, or raise the timeout"
                    ) from None
                time.sleep(LOCK_POLL)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
