"""A second destination: full snapshots of the database, on a schedule, in another bucket or store.

litestream 0.5 replicates a database to one replica. For a second copy (another provider or
region, against a deleted bucket or an outage), pylts takes a consistent copy of the database
with SQLite's backup API into a private folder, then has litestream upload that copy once
(``replicate -once`` on 0.5) to a folder of its own under the second destination:
``PYLTS_SECONDARY_URL/<UTC time>/``. litestream never runs a second time on the live
database (two litestreams on one WAL fight over its checkpoints), and the primary's
litestream is never waited on or stopped.

Each snapshot is a complete replica of one copy, restorable alone; the newest ones are kept
(``PYLTS_SECONDARY_KEEP``) and older ones deleted once a newer one is proven. A snapshot is
*taken* only when the second store's own listing shows its files; one that failed is
never reported as taken. A restore from the second destination picks the newest snapshot
the listing shows. See docs/protection.md.

>>> name = snapshot_name(datetime(2026, 12, 6, 2, 15, 0, 123000, tzinfo=timezone.utc))
>>> name, taken_at(name)
('20261206T021500123Z', datetime.datetime(2026, 12, 6, 2, 15, 0, 123000, tzinfo=datetime.timezone.utc))
>>> taken_at("notes") is None, taken_at("20261399T000000000Z") is None
(True, True)
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import sqlite_files
from .deadline import Deadline
from .errors import ListingUnavailable, NoBackupFound, PyltsError, SecondarySnapshotFailed
from .layout import ReplicaObjects, replica_prefix
from .lines.base import Plan
from .replica import S3Replica
from .runner import Cancel, cancelled_by
from .store import Credentials, StoredObject, delete_object, list_objects
from .timing import SECONDARY_SNAPSHOT_TIMEOUT, SECONDARY_STOP_WAIT

logger = logging.getLogger(__name__)

__all__ = [
    "SecondarySchedule",
    "SecondarySnapshot",
    "SnapshotSchedule",
    "latest_snapshot",
    "list_snapshots",
    "prune",
    "snapshot_context",
    "take_snapshot",
]

_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6})(?P<ms>\d{3})Z$")


def snapshot_name(moment: datetime) -> str:
    """The folder name of a snapshot taken at ``moment`` (UTC, to the millisecond): names sort as times do."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"


def taken_at(name: str) -> datetime | None:
    """When the snapshot in folder ``name`` was taken; None for a folder pylts did not name."""
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        moment = datetime.strptime(match["stamp"], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:  # shaped like a name, but no time (month 13...): not a snapshot
        return None
    return moment.replace(microsecond=int(match["ms"]) * 1000)


@dataclass(frozen=True)
class SecondarySnapshot:
    """One snapshot the second store's listing shows: its folder, when it was taken, its objects' bytes."""

    name: str
    taken_at: datetime
    size: int
    objects: int
    #: Where it lives, without secrets (``s3://BUCKET/PATH/NAME`` and the endpoint's host).
    label: str
    #: The keys of its objects in the bucket (what pruning deletes).
    keys: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def age(self, now: datetime | None = None) -> float:
        """Seconds since the snapshot was taken."""
        return ((now or datetime.now(timezone.utc)) - self.taken_at).total_seconds()


def snapshot_replica(replica: S3Replica, name: str) -> S3Replica:
    """The replica of the snapshot ``name`` under the second destination ``replica``.

    >>> snapshot_replica(S3Replica("copies", "app.db"), "20261206T021500123Z").path
    'app.db/20261206T021500123Z'
    """
    return dataclasses.replace(replica, path=f"{replica.path.strip('/')}/{name}".lstrip("/"))


def snapshot_context(secondary: Plan, snapshot: SecondarySnapshot, db: Path) -> Plan:
    """The plan of a restore of ``snapshot`` into ``db``: the second store's credentials, the snapshot's folder."""
    return secondary.with_db(db).with_replica(snapshot_replica(secondary.replica, snapshot.name))


def list_snapshots(secondary: Plan, deadline: Deadline) -> list[SecondarySnapshot]:
    """The snapshots the second store's listing shows, newest first (one signed listing per 1,000 objects).

    A folder counts when it holds files litestream wrote in a layout the line reads: an
    upload that failed leaves none (an object appears whole or not at all).
    """
    credentials = Credentials.from_env(secondary.env)
    if credentials is None:
        raise ListingUnavailable(
            "pylts lists the second destination itself and needs its access key and secret "
            "(PYLTS_SECONDARY_ACCESS_KEY_ID and PYLTS_SECONDARY_SECRET_ACCESS_KEY, or the primary's)"
        )
    prefix = replica_prefix(secondary.replica.path)
    listed = list_objects(
        secondary.replica, credentials, prefix, deadline, env=secondary.env, failure=SecondarySnapshotFailed
    )
    folders: dict[str, list[StoredObject]] = {}
    for item in listed:
        name = item.key[len(prefix) :].split("/", 1)[0]
        folders.setdefault(name, []).append(item)
    found = []
    for name, items in folders.items():
        moment = taken_at(name)
        if moment is None:
            continue
        objects = ReplicaObjects.of(f"{prefix}{name}", items)
        if not any(secondary.line.reads(layout) for layout in objects.layouts):
            continue
        label = snapshot_replica(secondary.replica, name).label()
        keys = tuple(item.key for item in items)
        found.append(SecondarySnapshot(name, moment, objects.size, len(objects.objects), label, keys))
    return sorted(found, key=lambda snapshot: snapshot.name, reverse=True)


def latest_snapshot(secondary: Plan, deadline: Deadline) -> SecondarySnapshot:
    """The newest snapshot the second store's listing shows; `NoBackupFound` when it shows none."""
    snapshots = list_snapshots(secondary, deadline)
    if not snapshots:
        raise NoBackupFound(
            f"the second destination {secondary.replica.label()} holds no snapshot: none was taken yet "
            "(replication takes one every PYLTS_SECONDARY_INTERVAL), or PYLTS_SECONDARY_URL names another place"
        )
    return snapshots[0]


@dataclass(frozen=True)
class SnapshotSchedule:
    """How often a snapshot goes to the second destination, and how many the second destination keeps."""

    interval: float
    keep: int


def take_snapshot(ctx: Plan, deadline: Deadline, *, keep: int | None = None) -> SecondarySnapshot:
    """Copy ``ctx.db`` consistently, upload the copy once to a new folder of the second destination, prove it.

    Returns the snapshot as the second store's listing shows it; raises
    `SecondarySnapshotFailed` (or the store's typed error) when it was not written or not listed.
    The copy lives in a private folder beside the database and is removed afterwards. With
    ``keep``, the snapshots past the ``keep`` newest are then deleted (a failure there is logged:
    the snapshot is taken all the same).
    """
    secondary = _secondary(ctx)
    started = time.monotonic()
    name = snapshot_name(datetime.now(timezone.utc))
    with _private_folder(ctx.db) as folder:
        copy = folder / ctx.db.name
        _consistent_copy(ctx.db, copy)
        target = secondary.with_db(copy).with_replica(snapshot_replica(secondary.replica, name))
        secondary.probe(deadline)
        if secondary.line.backup_once(target, deadline) is None:
            raise SecondarySnapshotFailed(
                f"the snapshot of {ctx.db.name} to {target.replica.label()} did not finish within "
                f"{deadline.seconds:g} s; the next one is tried on schedule (check that the second store answers)"
            )
    listed = list_snapshots(secondary, deadline)
    shown = {snapshot.name: snapshot for snapshot in listed}
    if name not in shown:
        raise SecondarySnapshotFailed(
            f"litestream reported the snapshot of {ctx.db.name} written, but the listing of "
            f"{secondary.replica.label()} does not show {name}; it is not counted as taken"
        )
    logger.info(
        "snapshot of %s taken to the second destination %s (%d bytes, %.1f s)",
        ctx.db.name,
        shown[name].label,
        shown[name].size,
        time.monotonic() - started,
    )
    if keep is not None:
        try:
            prune(secondary, [snapshot for snapshot in listed if snapshot.name <= name], keep, deadline)
        except PyltsError as exc:
            logger.warning("deleting old snapshots of %s from the second destination failed: %s", ctx.db.name, exc)
    return shown[name]


def prune(secondary: Plan, snapshots: list[SecondarySnapshot], keep: int, deadline: Deadline) -> int:
    """Delete the objects of every snapshot of ``snapshots`` (newest first) past the ``keep`` newest; how many.

    `take_snapshot` passes only the snapshot it took and older ones: one taken since (by another
    process) is never counted, so the snapshot just taken is never deleted.
    """
    credentials = Credentials.from_env(secondary.env)
    if credentials is None or keep < 1:
        return 0
    old = snapshots[keep:]
    for snapshot in old:
        for key in snapshot.keys:
            delete_object(
                secondary.replica, credentials, key, deadline, env=secondary.env, failure=SecondarySnapshotFailed
            )
        logger.info("deleted the snapshot %s from the second destination (%d kept)", snapshot.label, keep)
    return len(old)


def _secondary(ctx: Plan) -> Plan:
    if ctx.secondary is None:
        raise SecondarySnapshotFailed(
            f"no second destination is set for {ctx.db.name}: set PYLTS_SECONDARY_URL (s3://BUCKET/PATH)"
        )
    return ctx.secondary


def _consistent_copy(db: Path, copy: Path) -> None:
    """A copy of ``db`` as of one transaction, by SQLite's backup API (a reader: writers and litestream go on)."""
    if not db.is_file():
        raise SecondarySnapshotFailed(f"{db} does not exist, so there is nothing to copy to the second destination")
    source = sqlite_files.read_only(db)
    try:
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise SecondarySnapshotFailed(f"copying {db.name} for the second destination failed: {exc}") from None
    finally:
        source.close()


@contextlib.contextmanager
def _private_folder(db: Path) -> Iterator[Path]:
    """A folder beside ``db`` only its owner can read (mkdtemp makes it 0700), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f".{db.name}.secondary-", dir=db.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class SecondarySchedule:
    """Snapshots of one database to its second destination every ``interval`` seconds, in a thread of its own.

    The first comes at start when the newest listed snapshot is older than ``interval`` (or
    none is listed), else when it falls due, so restarts do not add snapshots. A failed
    snapshot is logged (WARNING) and tried again at the next due time; it never touches the
    primary's litestream. ``last`` is the newest snapshot proven by listing, ``last_error``
    what the last attempt failed with.
    """

    def __init__(
        self,
        ctx: Plan,
        schedule: SnapshotSchedule,
        *,
        timeout: float = SECONDARY_SNAPSHOT_TIMEOUT,
        on_taken: Callable[[SecondarySnapshot], None] | None = None,
    ) -> None:
        self._ctx = ctx
        self._secondary = _secondary(ctx)
        self._keep = schedule.keep
        self._interval = Deadline(schedule.interval).seconds  # Deadline checks it
        self._timeout = min(Deadline(timeout).seconds, max(self._interval, 30.0))
        self._on_taken = on_taken
        self._stopping = threading.Event()
        self._cancel = Cancel()  # a stop ends the snapshot's one-shot litestream at once
        self._thread: threading.Thread | None = None
        self.last: SecondarySnapshot | None = None
        self.last_error: str | None = None
        self.taken = 0
        self.failed = 0
        self.running = False

    def start(self) -> SecondarySchedule:
        """Start the thread; returns at once."""
        self._thread = threading.Thread(target=self._loop, name=f"pylts-secondary-{self._ctx.db.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self, wait: float = SECONDARY_STOP_WAIT) -> None:
        """Stop scheduling and a snapshot still running; wait at most ``wait`` s for the thread to end."""
        self.signal_stop()
        self.join(wait)

    def signal_stop(self) -> None:
        """Stop scheduling, and stop the litestream of a snapshot still running (its private copy is removed); at once.

        Stopping several schedules: signal them all, then `join` each, so they stop together.
        """
        self._stopping.set()
        self._cancel.cancel()

    def join(self, wait: float = SECONDARY_STOP_WAIT) -> None:
        """Wait at most ``wait`` s for the thread to end (after `signal_stop`)."""
        if self._thread is not None:
            self._thread.join(max(wait, 0.0))
            if self._thread.is_alive():
                logger.warning(
                    "a snapshot of %s to the second destination was still running at stop; its deadline ends it",
                    self._ctx.db.name,
                )

    def age(self) -> float | None:
        """Seconds since the newest snapshot proven by listing; None when none is known."""
        return None if self.last is None else self.last.age()

    def _loop(self) -> None:
        wait = 0.0
        try:
            known = list_snapshots(self._secondary, Deadline(self._timeout))
        except PyltsError as exc:
            self.last_error = str(exc)
            logger.warning("listing the second destination of %s failed: %s", self._ctx.db.name, exc)
        except Exception as exc:  # a bug must not end the schedule unseen: health shows it, the next round runs
            self._unexpected(exc, "listing the second destination")
        else:
            if known:
                self.last = known[0]
                wait = max(self._interval - known[0].age(), 0.0)
        while not self._stopping.wait(wait):
            began = time.monotonic()
            try:
                self.snapshot_now()
            except Exception as exc:  # from on_taken; snapshot_now catches the rest
                self._unexpected(exc, "after a snapshot")
            wait = max(self._interval - (time.monotonic() - began), 0.0)

    def _unexpected(self, exc: Exception, doing: str) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        name = self._ctx.db.name
        logger.exception("%s (%s) failed unexpectedly; the next snapshot is tried on schedule", doing, name)

    def snapshot_now(self) -> SecondarySnapshot | None:
        """Take one snapshot now (in the caller's thread): the snapshot, or None when it failed (logged)."""
        self.running = True
        try:
            with cancelled_by(self._cancel):
                snapshot = take_snapshot(self._ctx, Deadline(self._timeout), keep=self._keep)
        except PyltsError as exc:
            self.failed += 1
            self.last_error = str(exc)
            if self._stopping.is_set():
                logger.info("snapshot of %s to the second destination stopped with replication", self._ctx.db.name)
            else:
                logger.warning("snapshot of %s to the second destination failed: %s", self._ctx.db.name, exc)
            return None
        except Exception as exc:  # a bug, not a store's answer: logged with its traceback, counted failed
            self.failed += 1
            self._unexpected(exc, "a snapshot to the second destination")
            return None
        finally:
            self.running = False
        self.taken += 1
        self.last, self.last_error = snapshot, None
        if self._on_taken is not None:
            self._on_taken(snapshot)
        return snapshot
