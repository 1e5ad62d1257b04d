"""litestream 0.5's replication, observed through its control socket, and proven in the replica's own listing.

``/debug/sync-status`` (local syncs) matched to ``/list`` (the replica's last successful sync)
confirm a sync (readiness, ``wait_for_sync``, the last sync before stopping) and tell the watchdog
where things stand; `SocketObserver.health` adds ``/txid``. A wait for a commit also lists the
replica's level 0 (`replica_reaches`): the store's answer that the file holding the commit is
there comes about a sync earlier than litestream's account can prove it. The log is read at info
level, only for errors worth naming.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ...deadline import Deadline
from ...errors import ControlSocketError, ListingUnavailable, PyltsError
from ...events import Position, SyncTracker
from ...health import Behind, DatabaseHealth, Unknown
from ...observers import behind_threshold, judged, seconds_since
from ...output import redact
from ...sqlite_files import WalPosition, wal_position
from ...timing import CONTROL_ANSWER_SECONDS, MTIME_GRANULARITY, SYNC_PROOF_LIST_INTERVAL
from ..base import Context
from .control import ControlClient, Listed, SyncStatus, private_socket_path
from .ltx import captured_txid, replica_reaches

_RETRY = 0.1
_KEPT = 120  # local syncs seen (about one a second), kept to match against the replica's last sync


@dataclass(frozen=True)
class WalRead:
    """Where each database's WAL commits ended, read at ``at`` (``time.monotonic()``, taken before reading): every
    commit made before ``at`` is in the WAL up to there, or was checkpointed from an earlier part of it."""

    at: float
    positions: Mapping[Path, WalPosition | None]


class SocketObserver:
    """Facts asked of litestream's control socket, at a private path."""

    log_level = "info"
    commit_slack = MTIME_GRANULARITY  # a local sync that began 3 ms after a stamped commit had missed it

    def __init__(self, contexts: Mapping[Path, Context], tracker: SyncTracker) -> None:
        self.tracker = tracker
        self._contexts = dict(contexts)
        self._read: dict[Path, deque[LocalSync]] = {db: deque(maxlen=_KEPT) for db in contexts}
        #: Per database: the newest transaction a listing of the replica showed, and when it was last listed.
        self._listed: dict[Path, tuple[int, float]] = {}
        self._listable = True  # False once pylts cannot sign a listing (credentials from the AWS chain)
        #: The listing proves nothing until litestream's own account proved a sync begun after this moment.
        self._distrusted_at = time.monotonic()
        self._trusted = False
        self._distrusts = 0  # counted, so a listing that a distrust overtook proves nothing
        #: The two newest distinct ``last_sync_at`` seen, per database: (the one before, the newest).
        self._replica_successes: dict[Path, tuple[datetime | None, datetime]] = {}
        self._lock = threading.Lock()
        self._private: Path | None = None  # the socket's private folder, made at the first run
        self.client = ControlClient(Path("/nonexistent/pylts/control.sock"))  # until then, a path nothing serves

    @property
    def socket_path(self) -> Path:
        return self.client.path

    def config_section(self) -> str:
        return f"socket:\n  enabled: true\n  path: {json.dumps(str(self.socket_path))}\n"

    def before_run(self) -> None:
        """A private folder for the socket at the first run; a socket left by a killed litestream removed."""
        if self._private is None:
            self.client = ControlClient(private_socket_path(next(iter(self._contexts))))
            self._private = self.socket_path.parent
        self.socket_path.unlink(missing_ok=True)
        self.distrust()

    def after_run(self) -> None:
        """litestream ended: the listing proves nothing of commits made since, until a new run proves its own sync."""
        self.distrust()

    def distrust(self) -> None:
        """Stop trusting the replica's listing until litestream's own account proves a sync begun from now.

        At each start and end of litestream (a fresh snapshot is written between the two): a
        restore of the level-0 files stored then lacked a commit whose file was listed (the chain
        of transaction ids was unbroken; seen in tests/test_sync_proof.py).
        """
        with self._lock:
            self._distrusted_at, self._trusted = time.monotonic(), False
            self._distrusts += 1
            self._listed.clear()

    def poll(self) -> None:
        """What the replica held at its last successful sync, from the local syncs before it.

        ``/debug/sync-status`` shows litestream's local sync (WAL to LTX, once a second): one
        that began at S had read every commit made before S, up to its ``txid``. ``/list``
        says when the replica last synced successfully; `replica_holds` says which local sync
        that proves held. That position, and S, go to the tracker: a replica that stops
        syncing stops reporting, which is what the watchdog looks for.
        """
        try:
            statuses, listing = self._ask()
        except ControlSocketError:
            return
        self._learn(statuses, listing)

    def _ask(self) -> tuple[dict[Path, SyncStatus], dict[Path, Listed]]:
        return self.client.sync_status(seconds=CONTROL_ANSWER_SECONDS), self.client.listing(
            seconds=CONTROL_ANSWER_SECONDS
        )

    def _learn(self, statuses: Mapping[Path, SyncStatus], listing: Mapping[Path, Listed]) -> None:
        with self._lock:  # the supervisor's thread and callers of health() both poll
            for db in self._contexts:
                status, listed = statuses.get(db), listing.get(db)
                if status is not None and status.started_at is not None and not status.active and not status.error:
                    ended = status.updated_at or status.started_at
                    self._read[db].append(LocalSync(monotonic_of(status.started_at), ended, status.txid))
                if listed is not None and listed.last_sync_at is not None:
                    self._replica_synced(db, listed.last_sync_at)

    def _replica_synced(self, db: Path, success: datetime) -> None:
        previous, newest = self._replica_successes.get(db, (None, None))
        if newest is None or success > newest:
            previous, newest = newest, success
            self._replica_successes[db] = (previous, success)
            self.tracker.note_success(db, monotonic_of(success))
        held = None if previous is None else replica_holds(self._read[db], previous)
        if held is not None:  # asked at every poll: a later local sync that found nothing new proves more
            self._trusted = self._trusted or held.began > self._distrusted_at
            position = position_of(held.txid)
            self.tracker.report(db, position, position, held.began)

    def _confirmed(
        self,
        since: float,
        deadline: Deadline,
        *,
        starting: bool = False,
        wal: WalRead | None = None,
    ) -> str | None:
        """Poll until the replica is known to hold every commit made before ``since``; why not, or None.

        Never ``POST /sync``: with it asked at the start, litestream 0.5.17 lost 43 transactions
        in the middle of a later 30 s outage (drill 1, three runs out of three; none without it).
        While ``starting``, an error named in the log (a missing bucket) ends the wait at once.
        ``wal`` holds each database's WAL as it was after those commits: the replica's own
        listing then proves them as soon as the file that captured them is stored.
        """
        while True:
            self.poll()
            if wal and not self.tracker.in_sync(since):
                self._prove_in_replica(wal, deadline)
            if self.tracker.in_sync(since):
                return None
            if deadline.remaining() <= 0 or (starting and self.tracker.named_error):
                names = ", ".join(db.name for db in self._contexts)
                return f"litestream did not confirm a sync of {names} within {deadline.seconds:.3g} s"
            time.sleep(min(_RETRY, max(deadline.remaining(), 0.0)))

    def _prove_in_replica(self, wal: WalRead, deadline: Deadline) -> None:
        """Tell the tracker what the replica's own listing proves of the commits in ``wal``.

        Once litestream's local LTX files hold them (`captured_txid`), and the replica's level 0
        reaches that transaction, every commit made before ``wal`` was read is in the replica:
        no local sync litestream reported is needed (the sync that captured them may be one its
        status never showed). A WAL without commits proves nothing: the commits waited for were
        checkpointed into the database, which while litestream was down needs no file of it to
        have captured them. A listing that fails proves nothing (litestream's account still
        can); one pylts cannot sign is not tried again.
        """
        for db, ctx in self._contexts.items():
            with self._lock:
                trusted, distrusts = self._trusted, self._distrusts
            position = wal.positions.get(db)
            if position is None or not position.commits or not self._listable or not trusted:
                continue
            captured = captured_txid(db, position)
            if captured is None:
                continue
            reached, listed_at = self._listed.get(db, (0, -SYNC_PROOF_LIST_INTERVAL))
            if reached < captured and time.monotonic() - listed_at >= SYNC_PROOF_LIST_INTERVAL:
                seconds = min(max(deadline.remaining(), 0.001), CONTROL_ANSWER_SECONDS)
                try:
                    reached = max(reached, replica_reaches(ctx, captured, Deadline(seconds)))
                except ListingUnavailable:
                    self._listable = False
                    continue
                except (PyltsError, OSError):
                    continue
                finally:
                    with self._lock:
                        self._listed[db] = (reached, time.monotonic())
            with self._lock:
                if self._distrusts != distrusts:  # a start or an end of litestream came while the store was asked
                    self._listed.pop(db, None)
                elif reached >= captured:
                    self.tracker.report(db, position_of(captured), position_of(reached), wal.at)

    def wait_ready(self, since: float, timeout: float) -> bool:
        return self._confirmed(since, Deadline(max(timeout, 0.001)), starting=True) is None

    def wait_for_sync(self, last_commit: float, timeout: float) -> bool:
        return self._confirmed(last_commit, Deadline(timeout), wal=self._wal_now()) is None

    def final_sync(self, seconds: float) -> str | None:
        return self._confirmed(time.monotonic(), Deadline(seconds), wal=self._wal_now())

    def _wal_now(self) -> WalRead:
        at = time.monotonic()
        return WalRead(at, {db: wal_position(db) for db in self._contexts})

    def health(self, running: bool) -> list[DatabaseHealth]:
        """From ``/txid``, ``/debug/sync-status`` and ``/list``; never ``POST /sync`` (it queues behind a hung one)."""
        if not running:
            return [Unknown(path=db, reason="litestream is not running") for db in self._contexts]
        try:
            statuses, listing = self._ask()
            local = {db: self.client.txid(db, seconds=CONTROL_ANSWER_SECONDS) for db in self._contexts}
        except ControlSocketError as exc:  # a litestream starting while the store is down answers late
            return [self._unanswered(db, str(exc)) for db in self._contexts]
        self._learn(statuses, listing)
        return [self._health(db, local[db], statuses.get(db), listing.get(db)) for db in self._contexts]

    def _unanswered(self, db: Path, reason: str) -> DatabaseHealth:
        """Behind if commits have waited past the threshold (the socket's silence changes nothing), else Unknown."""
        lag = self.tracker.behind().get(db)
        if lag is None or lag < behind_threshold(self._contexts[db]):
            return Unknown(path=db, reason=reason, behind_seconds=lag)
        replica = self.tracker.replica_position(db)
        there = None if replica is None else str(replica)
        return Behind(path=db, replica_txid=there, behind_seconds=lag, error=reason)

    def _health(self, db: Path, txid: int, status: SyncStatus | None, listed: Listed | None) -> DatabaseHealth:
        if status is None or listed is None:
            return Unknown(path=db, reason="litestream does not list this database")
        replica = self.tracker.replica_position(db)
        there = None if replica is None else str(replica)
        since = seconds_since(listed.last_sync_at)
        ctx = self._contexts[db]
        reported = None if status.error is None else redact(status.error, ctx.secrets)  # shown in health and errors
        return judged(self.tracker, ctx, str(position_of(txid)), there, since, reported)

    def close(self) -> None:
        if self._private is not None:
            shutil.rmtree(self._private, ignore_errors=True)
            self._private = None


@dataclass(frozen=True)
class LocalSync:
    """One finished local sync (WAL to LTX) seen in ``/debug/sync-status``."""

    began: float  #: ``time.monotonic()`` of its start: it read every commit made before
    ended: datetime  #: litestream's clock, as `Listed.last_sync_at`
    txid: int  #: the newest transaction it captured


def replica_holds(local_syncs: Sequence[LocalSync], previous_success: datetime) -> LocalSync | None:
    """What the replica is proven to hold, once it synced again after ``previous_success``; None if nothing yet.

    litestream runs one replica sync at a time and records its success at its end. So the
    sync that succeeded after ``previous_success`` began after it, and read the database's
    position then: the transaction of the last local sync (in the order seen) that had
    ended by ``previous_success`` is in the replica. A local sync that ended later may have
    begun while an upload was still running, so a slow store cannot make pylts claim more
    than was sent. The answer's ``began`` is that of the latest local sync that found nothing
    newer: every commit made before it is in the replica, so an idle database is known in
    sync as soon as its next local sync ran. (Not covered: litestream's catch-up after more
    than 256 unsent transactions, where one replica sync sends 256 files and records a
    success before the next one sends the rest.)

    >>> from datetime import datetime, timezone
    >>> def at(second):
    ...     return datetime(2026, 1, 1, 0, 0, second, tzinfo=timezone.utc)
    >>> syncs = [LocalSync(0.0, at(1), 5), LocalSync(1.0, at(2), 6), LocalSync(2.0, at(4), 7)]
    >>> replica_holds(syncs, previous_success=at(3)).txid, replica_holds(syncs, previous_success=at(0))
    (6, None)
    >>> idle = [LocalSync(0.0, at(1), 5), LocalSync(1.0, at(2), 5), LocalSync(2.0, at(4), 5)]
    >>> replica_holds(idle, previous_success=at(1)).began
    2.0
    """
    ended = [sync for sync in local_syncs if sync.ended <= previous_success]
    if not ended:
        return None
    txid = ended[-1].txid
    latest = [sync for sync in local_syncs if sync.txid <= txid][-1]
    return LocalSync(latest.began, ended[-1].ended, txid)


def position_of(txid: int) -> Position:
    """A transaction id as a `Position`."""
    return Position.parse(f"{txid:016x}")


def monotonic_of(moment: datetime) -> float:
    """``time.monotonic()`` of a wall-clock moment in the recent past."""
    return time.monotonic() - max((datetime.now(timezone.utc) - moment).total_seconds(), 0.0)
