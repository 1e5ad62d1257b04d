"""Following replication: where each database is, and where its replica is, as litestream reports it.

A `SyncTracker` learns positions from what each litestream line offers: litestream 0.5's control
socket reports them (:meth:`SyncTracker.report`), litestream 0.3's debug log prints them (its line
gives the tracker a `PositionReader`). Both lines' logs name their errors the same way, which the
tracker reads from every line of output.

A database is *in sync* when its replica's position covers the database's. Reports alone
cannot show a stall (a stuck litestream reports nothing, so its last report looks fine): the
Replicator also tells the tracker when each database was last committed to
(:meth:`SyncTracker.note_commit`), and a commit the replica is not known to hold after
``stall_timeout`` seconds makes the database *not in sync*, with an error saying for how long.

>>> import time
>>> tracker = SyncTracker([Path("/data/app.db")])
>>> tracker.report(Path("/data/app.db"), Position.parse("0000000000000009"), None, time.monotonic())
>>> tracker.in_sync()
False
>>> tracker.report(Path("/data/app.db"), Position.parse("0000000000000009"), Position.parse("0000000000000009"), 0.0)
>>> tracker.in_sync(), tracker.snapshot()[0].replica_position
(True, '0000000000000009')
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from .errors import LitestreamError, error_class
from .output import LogLine, OutputLine, parse_line, redact

#: What litestream prints when a replica syncs again after errors (0.3, 0.5.17).
_RECOVERED = ("replica sync recovered", "sync recovered")
#: ERROR messages litestream prints when its final sync at shutdown fails.
_SHUTDOWN_FAILURES = ("shutdown sync failed", "failed to close database", "error closing db")


@dataclass(frozen=True)
class Position:
    """A point in a database's history: a transaction id, or where a line has none, a generation's index and offset.

    >>> Position.parse("0000000000000002").covers(Position.parse("0000000000000003"))
    False
    >>> Position("3ce1", 0, 4152).covers(Position("3ce1", 0, 32)), str(Position("3ce1", 0, 4152))
    (True, '3ce1/00000000:4152')
    """

    generation: str  #: empty for a transaction id
    index: int  #: the transaction id, or the WAL index within the generation
    offset: int  #: the offset within that WAL index (0 for a transaction id)

    @classmethod
    def parse(cls, text: str) -> Position:
        """Read a transaction id, ``0000000000000003``."""
        return cls("", int(text, 16), 0)

    def covers(self, other: Position) -> bool:
        """Whether everything up to ``other`` is included up to here."""
        return self.generation == other.generation and (self.index, self.offset) >= (other.index, other.offset)

    def __str__(self) -> str:
        if self.generation:
            return f"{self.generation}/{self.index:08x}:{self.offset}"
        return f"{self.index:016x}"


@dataclass(frozen=True)
class LogPositions:
    """The positions one log line reports for a database (each None where it says nothing of it)."""

    db: str  #: the database, as the log names it (its path or its file name)
    position: Position | None = None  #: the database's position
    replica: Position | None = None  #: a position its replica now holds (the line reports a successful sync)


#: Reads the positions a line of a litestream's log reports, or None (a line pylts reads no position from).
PositionReader = Callable[[LogLine], "LogPositions | None"]


def _printed_at(line: LogLine) -> float:
    """When litestream printed ``line`` (its ``time=`` field), as ``time.monotonic()``; else now.

    Reading a line can lag behind its printing, and a commit made in between is not in
    the position the line reports: the printing time keeps that commit out of it.

    >>> now = time.monotonic()
    >>> printed = datetime.now(timezone.utc).isoformat()
    >>> now - 2 < _printed_at(LogLine("DEBUG", "replica sync", {"time": printed})) <= now + 1
    True
    """
    now = time.monotonic()
    try:
        printed = datetime.fromisoformat(line.fields["time"].replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return now
    return now - min(max(time.time() - printed, 0.0), 60.0)


class DatabaseSync(BaseModel):
    """Where one database and its replica stand, as last reported by litestream."""

    model_config = ConfigDict(frozen=True)

    path: Path
    db_position: str | None
    replica_position: str | None
    in_sync: bool
    synced_at: datetime | None
    #: When the oldest local commit the replica is not known to hold was made (None: none is pending).
    lagging_since: datetime | None = None
    #: How long ago that was, in seconds.
    behind_seconds: float | None = None


class _State:
    def __init__(self) -> None:
        self.db: Position | None = None
        self.db_seen = 0.0  # monotonic time the db position was last reported
        self.replica: Position | None = None
        self.synced_at: datetime | None = None
        self.synced_mono = 0.0  # monotonic time it was last found in sync
        self.covered_mono = 0.0  # commits before this monotonic time are known to be in the replica
        self.pending_since: float | None = None  # monotonic time of the oldest commit not known to be there
        self.success_mono = 0.0  # monotonic time of the replica's last successful sync

    @property
    def in_sync(self) -> bool:
        return self.db is not None and self.replica is not None and self.replica.covers(self.db)

    def behind(self, now: float) -> float | None:
        """Seconds since the oldest commit not known to be in the replica, if any."""
        return None if self.pending_since is None else max(now - self.pending_since, 0.0)


class SyncTracker:
    """Thread-safe positions of several databases, fed line by line from litestream's output."""

    def __init__(
        self, dbs: Sequence[Path], *, stall_timeout: float = math.inf, positions: PositionReader | None = None
    ) -> None:
        self._states = {Path(db): _State() for db in dbs}
        self.stall_timeout = stall_timeout
        self._positions = positions
        self._changed = threading.Condition()
        # Error texts are kept as they may be shown (secrets masked), their causes as read from what litestream printed.
        self.last_error: str | None = None
        self.last_cause: type[LitestreamError] | None = None  # the cause `last_error` names, if pylts knows it
        self.error_at = 0.0  # monotonic time litestream printed ``last_error``
        self.named_error: str | None = None  # an error with a known cause (bucket, credentials...)
        self.named_cause: type[LitestreamError] | None = None
        self.replicating_since = 0.0  # monotonic time litestream last said it replicates (start of a run)
        self.shutdown_error: str | None = None

    def read_positions(self, reader: PositionReader) -> None:
        """Read the databases' positions from the log with ``reader`` (a line whose log reports them)."""
        self._positions = reader

    def _state_for(self, name: str) -> _State | None:
        for path, state in self._states.items():
            if name in (str(path), path.name):
                return state
        return None

    def feed_output(self, out: OutputLine) -> None:
        """Take one line of litestream output into account (a ``ManagedProcess`` ``on_line`` callback).

        The line is read as printed; the error texts kept from it have its secrets masked.
        """
        self.feed(parse_line(out.text), secrets=out.secrets)

    def feed(self, line: LogLine | None, *, secrets: Sequence[str] = ()) -> None:
        """Take one parsed line into account; ``secrets`` are masked in the error texts kept from it."""
        if line is None:
            return
        with self._changed:
            self._apply(line, secrets)
            self._changed.notify_all()

    def _apply(self, line: LogLine, secrets: Sequence[str]) -> None:
        if line.level == "ERROR":
            text = line.error or line.message
            self.last_error, self.last_cause = redact(text, secrets), error_class(text)
            self.error_at = _printed_at(line)
            if self.last_cause:
                self.named_error, self.named_cause = self.last_error, self.last_cause
            if line.message.startswith(_SHUTDOWN_FAILURES):
                self.shutdown_error = self.last_error
            return
        if line.message.startswith("replicating to"):
            self.replicating_since = time.monotonic()
            return
        if line.message in _RECOVERED:
            self.last_error = self.last_cause = None
            return
        reported = self._positions(line) if self._positions else None
        state = self._state_for(reported.db) if reported else None
        if reported is None or state is None:
            return
        printed = _printed_at(line)
        if reported.position is not None:
            self._set_db(state, reported.position, printed)
        if reported.replica is not None:
            self._set_replica(state, reported.replica)
            state.success_mono = printed

    def _set_db(self, state: _State, position: Position, seen: float) -> None:
        state.db, state.db_seen = position, seen
        self._mark(state)

    def _set_replica(self, state: _State, position: Position) -> None:
        if state.replica is None or not state.replica.covers(position):  # forward, or a new generation
            state.replica = position
        self._mark(state)

    @staticmethod
    def _mark(state: _State) -> None:
        if state.in_sync:
            state.synced_at, state.synced_mono = datetime.now(timezone.utc), time.monotonic()
            state.covered_mono = state.db_seen
            if state.pending_since is not None and state.pending_since < state.db_seen:
                state.pending_since = None

    def report(self, db: Path, position: Position, replica: Position | None, seen: float) -> None:
        """Take a report from elsewhere than the log (litestream 0.5's control socket) into account.

        ``position`` is the database's position as of ``seen`` (``time.monotonic()``), ``replica``
        a position the replica is known to hold (None: nothing new about it).
        """
        with self._changed:
            state = self._states[db]
            if seen >= state.db_seen:
                self._set_db(state, position, seen)
            if replica is not None:
                self._set_replica(state, replica)
            self._changed.notify_all()

    def note_success(self, db: Path, at: float) -> None:
        """Learn that the replica of ``db`` last synced successfully at ``at`` (``time.monotonic()``)."""
        with self._changed:
            state = self._states[db]
            state.success_mono = max(state.success_mono, at)

    def current_error(self, db: Path) -> str | None:
        """litestream's last error, unless the replica of ``db`` synced successfully after it was printed.

        An error is a fact about the moment it was printed: litestream does not always say it
        recovered (0.5.17 says ``sync recovered`` once, a restarted litestream never does, and a
        failed compaction is only retried minutes later), so a later successful sync ends it.

        >>> tracker = SyncTracker([Path("app.db")])
        >>> tracker.feed(parse_line('level=ERROR msg="sync error" error="api error InvalidAccessKeyId: no"'))
        >>> tracker.current_error(Path("app.db"))
        'api error InvalidAccessKeyId: no'
        >>> tracker.note_success(Path("app.db"), time.monotonic() + 1)
        >>> tracker.current_error(Path("app.db")) is None
        True
        """
        with self._changed:
            if self.last_error is None or self._states[db].success_mono >= self.error_at:
                return None
            return self.last_error

    def synced_since(self, since: float) -> bool:
        """Whether the replica of every database was confirmed to hold a position reported after ``since``."""
        with self._changed:  # one look at them all (the condition's lock is re-entrant)
            return all(self.covered_since(db, since) for db in self._states)

    def covered_since(self, db: Path, since: float) -> bool:
        """Whether the replica of ``db`` was confirmed to hold a position reported after ``since``."""
        with self._changed:
            return self._states[db].covered_mono > since

    def replica_position(self, db: Path) -> Position | None:
        """The newest position the replica of ``db`` is known to hold."""
        with self._changed:
            return self._states[db].replica

    def note_commit(self, db: Path, committed: float) -> None:
        """Learn that ``db`` was last committed to at ``committed`` (``time.monotonic()``)."""
        with self._changed:
            state = self._states[db]
            if committed > state.covered_mono and state.pending_since is None:
                state.pending_since = committed

    def behind(self, now: float | None = None) -> dict[Path, float]:
        """Each database with commits not known to be in the replica, and for how many seconds."""
        now = time.monotonic() if now is None else now
        with self._changed:
            lags = {path: state.behind(now) for path, state in self._states.items()}
        return {path: lag for path, lag in lags.items() if lag is not None}

    def reported_at(self, db: Path) -> float:
        """When litestream last reported ``db``'s position (``time.monotonic()``; 0 if never)."""
        with self._changed:
            return self._states[db].db_seen

    def stall_errors(self) -> list[str]:
        """``"app.db not in sync for 42 s"`` for each database behind by more than ``stall_timeout``."""
        lags = self.behind().items()
        return [f"{path.name} not in sync for {lag:.0f} s" for path, lag in lags if lag > self.stall_timeout]

    def in_sync(self, since: float = 0.0) -> bool:
        """Whether every database was found in sync, with a database position reported after ``since``.

        ``since`` is a ``time.monotonic()`` value: pass the time of a commit to learn
        whether that commit has reached the replica.
        """
        with self._changed:
            return all(s.in_sync and s.db_seen > since and s.synced_mono >= s.db_seen for s in self._states.values())

    def wait(self, *, since: float, timeout: float, stop_on_error: bool = True) -> bool:
        """Wait until :meth:`in_sync` (since ``since``); False on timeout or, if asked, a named error."""
        end = time.monotonic() + timeout
        with self._changed:
            while True:
                if self.in_sync(since):
                    return True
                if stop_on_error and self.named_error:
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.5))

    def snapshot(self) -> list[DatabaseSync]:
        """What is known of each database now."""
        now, wall = time.monotonic(), datetime.now(timezone.utc)
        with self._changed:
            return [self._report(path, state, now, wall) for path, state in self._states.items()]

    def _report(self, path: Path, state: _State, now: float, wall: datetime) -> DatabaseSync:
        behind = state.behind(now)
        return DatabaseSync(
            path=path,
            db_position=str(state.db) if state.db else None,
            replica_position=str(state.replica) if state.replica else None,
            in_sync=state.in_sync and (behind is None or behind <= self.stall_timeout),
            synced_at=state.synced_at,
            lagging_since=None if behind is None else wall - timedelta(seconds=behind),
            behind_seconds=behind,
        )
