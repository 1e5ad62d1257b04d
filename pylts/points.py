"""What a replica can restore to, and what a restore to one point would download, from the store's own listing.

litestream 0.5 keeps a replica as LTX files at compaction levels: level 0 one file per sync
(kept for ``l0-retention``, 5 minutes by default), level 1 every 30 s, 2 every 5 minutes, 3 every
hour, and full snapshots at level 9 (every 24 h by default). A point in time can be restored as
finely as the files of its age allow. `restore_points` lists them (one LIST request), `plan_restore`
picks the files a restore reads the way ``litestream restore`` does: the latest snapshot before the
point, then, from any level, the file that reaches furthest and starts no later than the next
transaction.

The times of `restore_points` are the store's ``LastModified`` of the files, whole seconds, rounded
up: asking for that moment restores the file. A plan for a timestamp reads each file's own
``litestream-timestamp`` (one HEAD request per file, as ``litestream restore -timestamp`` does itself).

>>> from datetime import datetime, timezone
>>> def f(level, lo, hi, second, size=100):
...     at = datetime(2026, 12, 6, 2, 0, second, tzinfo=timezone.utc)
...     return LtxFile(level=level, min_txid=f"{lo:016x}", max_txid=f"{hi:016x}", size=size, timestamp=at)
>>> files = [f(9, 1, 20, 20, 1000), f(1, 2, 30, 30), f(0, 29, 29, 29), f(0, 30, 30, 30), f(0, 31, 31, 31)]
>>> [(x.level, x.max_txid_number) for x in plan_files(files)]
[(9, 20), (1, 30), (0, 31)]
>>> [(x.level, x.max_txid_number) for x in plan_files(files, txid=30)]
[(9, 20), (1, 30)]
>>> [(x.level, x.max_txid_number) for x in plan_files(files, txid=29)]  # 21 to 28 only in the level 1 file
[(9, 20)]
"""

from __future__ import annotations

import itertools
import logging
import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict

from .continuity import SNAPSHOT_LEVEL, Continuity, prove, restore_window
from .deadline import Deadline
from .errors import (
    HINTS,
    CredentialsRejected,
    EncryptionKeyRequired,
    LitestreamError,
    NoBackupFound,
    OutsideRestoreWindow,
    PointsUnavailable,
    RestoreError,
)
from .layout import Layout, LtxFile, ReplicaObjects, replica_prefix
from .lines.base import Plan
from .pitr import timestamp_arg, txid_arg
from .store import Credentials, object_request, sse_customer_headers
from .timing import RESTORE_BYTES_PER_SECOND, RESTORE_FIXED_SECONDS

logger = logging.getLogger(__name__)

#: Where the restore rate of an estimate comes from, said with every plan.
RATE_SOURCE = (
    "rate measured by `python3 tasks.py bench` against a local S3 server (benchmarks/results.md, Recovery time); "
    "a store across a network is slower"
)
#: The object metadata litestream 0.5 writes on each LTX file: when its last transaction was written.
_TIMESTAMP_HEADER = "x-amz-meta-litestream-timestamp"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Band(_Model):
    """The files of one compaction level: how far back they reach and how fine a point they give there."""

    #: The compaction level: 0 each sync, 1.. coarser, 9 full snapshots.
    level: int
    files: int
    bytes: int
    #: The oldest and newest file's time in the store.
    oldest: datetime
    newest: datetime
    #: Transactions the level's files hold, lowest to highest.
    min_txid: int
    max_txid: int
    #: The median time between two files of the level: how far apart its restore points are (None: one file).
    step_seconds: float | None

    @property
    def name(self) -> str:
        """``snapshots`` for level 9, else ``level N``."""
        return level_name(self.level)


def level_name(level: int) -> str:
    """How a compaction level is called: ``snapshots`` for the snapshot level (9), else ``level N``.

    >>> level_name(SNAPSHOT_LEVEL), level_name(0)
    ('snapshots', 'level 0')
    """
    return "snapshots" if level == SNAPSHOT_LEVEL else f"level {level}"


class RestorePoints(_Model):
    """What a replica can restore to, taken from the store's listing (``ConfigS3.points()``, ``pylts points``)."""

    replica: str
    #: The earliest moment a restore can be asked for, and the transaction the file that starts there holds.
    earliest: datetime
    earliest_txid: int
    #: The last moment ``restore --timestamp`` takes: the newest file's time in the store (litestream refuses a
    #: later one with "timestamp does not exist"). A restore as of then holds every file litestream wrote before it.
    latest: datetime
    #: The newest transaction, which a restore without ``--timestamp`` reaches.
    latest_txid: int
    #: Full snapshots (level 9), oldest first.
    snapshots: list[LtxFile]
    #: One band per compaction level, finest first.
    bands: list[Band]
    #: Files and bytes a restore of the latest point downloads.
    download_files: int
    download_bytes: int
    #: Seconds that restore is expected to take, at `RESTORE_BYTES_PER_SECOND` (``rate_source`` says where from).
    estimated_seconds: float
    rate_source: str
    #: Whether a restore reaches every transaction the files hold, and where the chain breaks if not.
    continuity: Continuity


class RestorePlan(_Model):
    """What ``pylts restore --dry-run`` would do: the files a restore reads, their bytes, and how long it would take."""

    replica: str
    #: What was asked for: the latest point, a timestamp (RFC 3339) or a transaction id (16 hex digits).
    timestamp: str | None = None
    txid: str | None = None
    #: The transaction the restore reaches.
    restores_txid: int
    #: The files, in the order the restore applies them.
    files: list[LtxFile]
    bytes: int
    estimated_seconds: float
    rate_source: str

    @property
    def keys(self) -> list[str]:
        """The files' names under the replica's path (``0009/0000000000000001-0000000000000028.ltx``)."""
        return [ltx_key(file) for file in self.files]


def ltx_key(file: LtxFile) -> str:
    """The key of an LTX file under its replica's path.

    >>> ltx_key(LtxFile(level=9, min_txid="0000000000000001", max_txid="0000000000000028", size=1,
    ...                 timestamp=datetime(2026, 12, 6, tzinfo=timezone.utc)))
    '0009/0000000000000001-0000000000000028.ltx'
    """
    return f"{file.level:04x}/{file.min_txid}-{file.max_txid}.ltx"


def estimate_seconds(size: int) -> float:
    """How long a restore downloading ``size`` bytes is expected to take, at the measured rate.

    >>> round(estimate_seconds(1_000_000_000), 1)
    10.7
    """
    return round(RESTORE_FIXED_SECONDS + size / RESTORE_BYTES_PER_SECOND, 2)


def _better(current: LtxFile, other: LtxFile) -> bool:
    """Whether ``other`` extends the chain better than ``current``: further, then earlier start, higher level, older."""
    if other.max_txid_number != current.max_txid_number:
        return other.max_txid_number > current.max_txid_number
    if other.min_txid_number != current.min_txid_number:
        return other.min_txid_number < current.min_txid_number
    if other.level != current.level:
        return other.level > current.level
    return other.timestamp < current.timestamp


def plan_files(files: Iterable[LtxFile], *, txid: int | None = None, before: datetime | None = None) -> list[LtxFile]:
    """The files a restore reads, in order, as litestream 0.5 picks them (empty: nothing to restore).

    ``txid``: files ending after it are left out; ``before``: files written at or after it
    (their ``timestamp``) are left out. The latest snapshot that qualifies comes first.
    """

    def eligible(file: LtxFile) -> bool:
        return (txid is None or file.max_txid_number <= txid) and (before is None or file.timestamp < before)

    ordered = sorted(files, key=lambda f: (f.level, f.min_txid_number, f.max_txid_number))
    chosen: list[LtxFile] = []
    snapshots = [f for f in ordered if f.level == SNAPSHOT_LEVEL and eligible(f)]
    if snapshots:
        chosen.append(snapshots[-1])
    reached = chosen[0].max_txid_number if chosen else 0
    rest = [f for f in ordered if f.level < SNAPSHOT_LEVEL and eligible(f)]
    while txid is None or reached < txid:
        best: LtxFile | None = None
        for file in rest:
            if file.min_txid_number <= reached + 1 < file.max_txid_number + 1 and (best is None or _better(best, file)):
                best = file
        if best is None:
            break
        chosen.append(best)
        reached = best.max_txid_number
    return chosen


def restore_points(ctx: Plan, deadline: Deadline) -> RestorePoints:
    """The points the replica of ``ctx.db`` can restore to, from one listing of the store (see the module)."""
    files = _ltx_files(ctx, deadline, doing="listing restore points")
    continuity = prove(files)
    latest_plan = plan_files(files)
    starts = [f for f in files if f.level == SNAPSHOT_LEVEL or f.min_txid_number == 1]
    if not latest_plan or not starts:
        raise NoBackupFound(
            f"the replica {ctx.replica.url()} holds no file a restore can start from (no snapshot and no file from "
            f"transaction 1): {continuity.summary()}; a new snapshot (`pylts replicate --once`) makes one"
        )
    first = min(starts, key=lambda f: (f.timestamp, f.max_txid_number))
    earliest, latest = restore_window(files)
    assert earliest is not None and latest is not None  # there are files, and files from 1
    size = sum(f.size for f in latest_plan)
    return RestorePoints(
        replica=ctx.replica.url(),
        earliest=earliest,
        earliest_txid=first.max_txid_number,
        latest=latest,
        latest_txid=latest_plan[-1].max_txid_number,
        snapshots=sorted((f for f in files if f.level == SNAPSHOT_LEVEL), key=lambda f: f.max_txid_number),
        bands=_bands(files),
        download_files=len(latest_plan),
        download_bytes=size,
        estimated_seconds=estimate_seconds(size),
        rate_source=RATE_SOURCE,
        continuity=continuity,
    )


def plan_restore(
    ctx: Plan,
    deadline: Deadline,
    *,
    timestamp: datetime | str | None = None,
    txid: int | str | None = None,
) -> RestorePlan:
    """What a restore of ``ctx.db`` (latest, as of ``timestamp`` or up to ``txid``) would read; reads nothing else.

    A point outside what the replica holds raises `OutsideRestoreWindow`, naming the window.
    """
    if timestamp is not None and txid is not None:
        raise OutsideRestoreWindow("give a timestamp or a txid, not both")
    moment = None if timestamp is None else datetime.fromisoformat(timestamp_arg(timestamp).replace("Z", "+00:00"))
    target = None if txid is None else int(txid_arg(txid), 16)
    files = _ltx_files(ctx, deadline, doing="planning a restore")
    window_from, newest_in_store = restore_window(files)  # the listing's times: pylts' one window
    assert newest_in_store is not None  # there are files
    if moment is not None:
        files = _created(ctx, files, deadline)
    plan = plan_files(files, txid=target, before=moment)
    latest = plan_files(files)
    if not latest:
        raise NoBackupFound(f"the replica {ctx.replica.url()} holds no backup to restore: {prove(files).summary()}")
    starts = [f for f in files if f.level == SNAPSHOT_LEVEL or f.min_txid_number == 1]
    if moment is not None:
        earliest = min((f.timestamp for f in starts), default=None)  # litestream's own times, from the HEADs
        window = f"the replica restores timestamps from {shown_time(window_from)} up to {shown_time(newest_in_store)}"
        if not plan or (earliest is not None and moment <= earliest):
            raise OutsideRestoreWindow(
                f"{shown_time(moment)} is before the earliest restore point: {window}; `pylts points` lists them"
            )
        if moment > newest_in_store:
            raise OutsideRestoreWindow(
                f"{shown_time(moment)} is after the latest restore point: {window} (litestream refuses a later one); "
                f"leave out --timestamp to restore the newest transaction, {latest[-1].max_txid_number}"
            )
    if target is not None and (not plan or plan[-1].max_txid_number != target):
        reachable = sorted(
            {f.max_txid_number for f in files if f.level < SNAPSHOT_LEVEL} | {f.max_txid_number for f in starts}
        )
        below = max((t for t in reachable if t < target), default=None)
        above = min((t for t in reachable if t > target), default=None)
        raise OutsideRestoreWindow(
            f"transaction {target} is not a restore point of {ctx.replica.url()}: the replica restores transactions "
            f"up to {latest[-1].max_txid_number}, and the nearest points are {below} and {above} "
            "(older transactions are kept only at the granularity of their compaction level); `pylts points` lists them"
        )
    size = sum(f.size for f in plan)
    return RestorePlan(
        replica=ctx.replica.url(),
        timestamp=None if moment is None else timestamp_arg(moment),
        txid=None if target is None else f"{target:016x}",
        restores_txid=plan[-1].max_txid_number,
        files=plan,
        bytes=size,
        estimated_seconds=estimate_seconds(size),
        rate_source=RATE_SOURCE,
    )


def _ltx_files(ctx: Plan, deadline: Deadline, *, doing: str) -> list[LtxFile]:
    """The replica's LTX files at every level, from the store's own listing; 0.3's layout alone is refused."""
    ctx.line.require_txids(doing, instead="`pylts contents` lists the generations of litestream 0.3")
    ctx.probe(deadline)
    objects: ReplicaObjects = ctx.replica_objects(deadline, failure=RestoreError)
    files = objects.ltx_files
    if not files and Layout.V03 in objects.layouts:
        raise PointsUnavailable(
            f"the replica {ctx.replica.url()} holds litestream 0.3's generations only, which have no transaction ids, "
            f"so {doing} is not possible: `pylts contents` lists its snapshots, "
            "`pylts migrate` moves it to 0.5's layout"
        )
    if not files:
        raise NoBackupFound(f"the replica {ctx.replica.url()} holds no backup yet")
    return files


def _created(ctx: Plan, files: Sequence[LtxFile], deadline: Deadline) -> list[LtxFile]:
    """``files`` with the time litestream wrote into each (its ``litestream-timestamp`` metadata), one HEAD each.

    A file without it keeps the store's ``LastModified``, which is what litestream falls back to. A
    replica written with an SSE-C key is asked with the key; a refused HEAD raises (the plan would
    otherwise rest on other times than the restore's): 400 `EncryptionKeyRequired`, 403
    `CredentialsRejected`, any other `RestoreError`.
    """
    credentials = Credentials.from_env(ctx.env)
    assert credentials is not None  # the listing before needed them
    prefix = replica_prefix(ctx.replica.path)
    extra = sse_customer_headers(ctx.replica, ctx.env)
    found = []
    for file in files:
        key = prefix + ltx_key(file)
        answer = object_request(
            ctx.replica, credentials, "HEAD", key, deadline, env=ctx.env, failure=RestoreError, extra=extra
        )
        if not answer.ok and answer.status != 404:  # 404: gone since the listing; its listed time stays
            raise _refused(answer.status, key)
        stamp = answer.headers.get(_TIMESTAMP_HEADER) if answer.ok else None
        if stamp:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            file = file.model_copy(update={"timestamp": moment})
        found.append(file)
    return found


def _refused(status: int, key: str) -> LitestreamError:
    """The error of a HEAD the store refused (a HEAD's answer has no body to name the cause: the status does)."""
    said = f"planning a restore as of a timestamp reads each file's time: the store refused HEAD {key} (HTTP {status})"
    if status == 400:
        return EncryptionKeyRequired(f"{said}; {HINTS[EncryptionKeyRequired]}")
    if status == 403:
        return CredentialsRejected(
            f"{said}; the credentials need s3:GetObject on the replica's objects, and a replica written with an "
            "SSE-C key needs that key in PYLTS_SSE_CUSTOMER_KEY"
        )
    return RestoreError(f"{said}; check the store, or plan without --timestamp")


def _bands(files: Iterable[LtxFile]) -> list[Band]:
    by_level: dict[int, list[LtxFile]] = {}
    for file in files:
        by_level.setdefault(file.level, []).append(file)
    bands = []
    for level, group in sorted(by_level.items()):
        times = sorted(f.timestamp for f in group)
        steps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        bands.append(
            Band(
                level=level,
                files=len(group),
                bytes=sum(f.size for f in group),
                oldest=times[0],
                newest=times[-1],
                min_txid=min(f.min_txid_number for f in group),
                max_txid=max(f.max_txid_number for f in group),
                step_seconds=round(statistics.median(steps), 1) if steps else None,
            )
        )
    return bands


def shown_time(moment: datetime | None) -> str:
    """A moment as pylts shows it: UTC, milliseconds, ``Z`` (``?`` for None).

    >>> shown_time(datetime(2026, 12, 6, 2, 10, 40, tzinfo=timezone.utc))
    '2026-12-06T02:10:40.000Z'
    """
    return (
        "?"
        if moment is None
        else moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


__all__ = [
    "Band",
    "RestorePlan",
    "RestorePoints",
    "estimate_seconds",
    "level_name",
    "plan_files",
    "plan_restore",
    "restore_points",
    "shown_time",
]
