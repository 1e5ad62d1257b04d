"""How a running litestream's replication is judged: what the `Observer` each line implements has in common.

Each litestream line brings its strategy (``Line.observer``): litestream 0.5 asks its control
socket (`pylts.lines.v05.observer`), 0.3 follows positions in its debug log
(`pylts.lines.v03.observer`). Both feed one `SyncTracker`, so ``Replicator.status()`` answers the
same way on every line, and both judge a database's health here (`judged`), from what they observed
and what they are given of the run (`Watched`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from .errors import EndpointUnreachable
from .events import SyncTracker
from .health import Behind, CaughtUp, DatabaseHealth, Failing
from .lines.base import Observer as Observer
from .lines.base import Watched as Watched
from .timing import ANSWER_SECONDS, BEHIND_SECONDS, BEHIND_SYNC_INTERVALS, DEFAULT_SYNC_INTERVAL, SLOW_SYNC_SECONDS


def judged(
    tracker: SyncTracker,
    ctx: Watched,
    here: str | None,
    there: str | None,
    since: float | None,
    reported: str | None = None,
) -> DatabaseHealth:
    """The state of one database from what is known now; ``reported`` is an error litestream reports for it now.

    Failing on a current error only (`SyncTracker.current_error`); Behind once the oldest commit
    the replica is not known to hold is older than `behind_threshold`, or nothing was ever confirmed;
    else CaughtUp, with that lag in ``behind_seconds``.
    """
    db = ctx.db
    lag = tracker.behind().get(db)
    failure = reported or named_error(tracker, db)
    if failure:
        return Failing(
            path=db, error=failure, local_txid=here, replica_txid=there, seconds_since_sync=since, behind_seconds=lag
        )
    if there is not None and (lag or 0.0) < behind_threshold(ctx):
        return CaughtUp(path=db, txid=here, replica_txid=there, seconds_since_sync=since, behind_seconds=lag)
    error = _why_behind(ctx, since, lag) or tracker.current_error(db)
    return Behind(
        path=db, local_txid=here, replica_txid=there, seconds_since_sync=since, behind_seconds=lag, error=error
    )


def paused(before: DatabaseHealth, lag: float | None, threshold: float, elapsed: float, why: str) -> DatabaseHealth:
    """The health of a database while pylts has stopped litestream on purpose (to write a fresh snapshot).

    No litestream answers then, yet the replica has not fallen behind: what litestream's observer
    said just before (``before``, ``elapsed`` seconds ago) stands, with ``lag`` (the tracker's, the
    commits made since noted) in place of its own. A `CaughtUp` becomes `Behind` (``why``) once that
    lag reaches ``threshold``: a pause that lasts is an outage like any other.

    >>> from pathlib import Path
    >>> was = CaughtUp(path=Path("app.db"), txid="09", replica_txid="09", seconds_since_sync=0.5)
    >>> paused(was, 1.2, 5.0, 2.0, "stopped").model_dump(include={"state", "behind_seconds", "seconds_since_sync"})
    {'seconds_since_sync': 2.5, 'behind_seconds': 1.2, 'state': 'caught_up'}
    >>> now = paused(was, 6.0, 5.0, 7.0, "litestream is stopped for a fresh snapshot")
    >>> now.state, now.replica_txid, now.error
    ('behind', '09', 'litestream is stopped for a fresh snapshot')
    >>> paused(now, 9.0, 5.0, 3.0, "stopped").model_dump(include={"state", "behind_seconds", "seconds_since_sync"})
    {'seconds_since_sync': 10.5, 'behind_seconds': 9.0, 'state': 'behind'}
    """
    if not isinstance(before, (CaughtUp, Behind)):
        return before
    since = None if before.seconds_since_sync is None else before.seconds_since_sync + elapsed
    if isinstance(before, Behind) or (lag or 0.0) < threshold:
        return before.model_copy(update={"behind_seconds": lag, "seconds_since_sync": since})
    return Behind(
        path=before.path,
        local_txid=before.txid,
        replica_txid=before.replica_txid,
        seconds_since_sync=since,
        behind_seconds=lag,
        error=why,
    )


def behind_threshold(ctx: Watched) -> float:
    """How old the oldest commit missing from the replica must be to call it `Behind`: a few sync intervals.

    >>> from types import SimpleNamespace
    >>> from datetime import timedelta
    >>> from pylts.tuning import Tuning
    >>> tuple(behind_threshold(SimpleNamespace(tuning=Tuning(sync_interval=timedelta(seconds=s)))) for s in (1, 10))
    (5.0, 30.0)
    """
    interval = ctx.tuning.sync_interval
    seconds = DEFAULT_SYNC_INTERVAL if interval is None else interval.total_seconds()
    return max(BEHIND_SYNC_INTERVALS * seconds, BEHIND_SECONDS)


def named_error(tracker: SyncTracker, db: Path) -> str | None:
    """litestream's current error if it names a cause retrying will not cure (bucket, credentials...).

    An unreachable store is not one: the replica is behind, and litestream catches up once it answers.
    """
    error = tracker.current_error(db)
    cause = tracker.last_cause if error else None  # read from what litestream printed: the text may be masked
    return error if cause is not None and cause is not EndpointUnreachable else None


def _why_behind(ctx: Watched, since: float | None, lag: float | None) -> str | None:
    """When the replica has not synced for `SLOW_SYNC_SECONDS`: that, and whether the store answers."""
    if since is not None and since < SLOW_SYNC_SECONDS:
        return None if lag is None else f"the oldest commit not in the replica is {lag:.0f} s old"
    host, port = ctx.replica.address()
    store = "the store answers" if ctx.store_answers(ANSWER_SECONDS) else f"the store at {host}:{port} does not answer"
    last = "no successful sync yet" if since is None else f"no successful sync for {since:.0f} s"
    return f"{last}; {store}"


def seconds_since(moment: datetime | None) -> float | None:
    """Seconds from ``moment`` to now (None for None)."""
    return None if moment is None else max((datetime.now(timezone.utc) - moment).total_seconds(), 0.0)
