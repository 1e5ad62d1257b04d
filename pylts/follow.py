"""Following a replica: a read-only local copy kept up to date by ``litestream restore -f`` (0.5).

How litestream 0.5.17 follows (measured here, and read in its ``replica.go``):

- ``restore -f -o OUT URL`` restores into ``OUT.tmp``, renames it to ``OUT``, writes ``OUT-txid``,
  then keeps ``OUT`` open and writes each new transaction's pages into it in place, under
  SQLite's exclusive lock bytes, and rewrites ``OUT-txid`` after each batch.
- ``OUT`` must be missing at start: if it exists litestream resumes from ``OUT-txid``, and
  refuses when that txid is past the replica's latest snapshot (upstream #1385). On a live
  replica it nearly always is (measured: "saved TXID 4 is ahead of latest snapshot (max TXID 1)").
  So pylts never resumes: each run of litestream restores afresh.
- The restored file keeps the primary's WAL header until a transaction rewrites page 1. A
  reader that opens it meanwhile switches to WAL and does not see litestream's in-place writes.
- litestream changes the file change counter only when page 1 changes, so a connection kept
  open can go on reading pages from before an update (measured: 10 rows, 20 added, still 10).
  Open a connection per unit of work (`Follower.reading`, `connect_readonly`).

So each run restores into a private folder beside ``OUT`` (``.OUT-pylts-follow/run-*``). pylts
switches the copy to rollback-journal mode, checks it, and renames it over ``OUT``; litestream
keeps writing to the same file (it holds it open), and its ``-txid`` file stays in the run
folder, where pylts reads the follower's position. Readers never see a half-written file, and
a connection open across a swap keeps reading the file it opened. When litestream dies it is
started again with backoff; when it stops advancing while the replica moves on (a stall,
upstream #1515, or a replica whose history was replaced), the copy is rebuilt the same way.

>>> follow_folder(Path("/srv/app.db"))
PosixPath('/srv/.app.db-pylts-follow')
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Literal

from pydantic import BaseModel, ConfigDict

from . import sqlite_files
from .context import RunContext
from .deadline import Deadline
from .errors import (
    AlreadyReplicating,
    DatabaseExists,
    FollowTargetInUse,
    InvalidArgument,
    LitestreamTimeout,
    PyltsError,
    RestoreError,
)
from .failures import error_from_text
from .output import OutputLine, exit_words, last_error, redact
from .runner import ManagedProcess
from .timing import (
    FOLLOW_BACKOFF_RESET_SECONDS,
    FOLLOW_BUSY_TIMEOUT,
    FOLLOW_CHECK_INTERVAL,
    FOLLOW_INTERVAL,
    FOLLOW_LISTING_SECONDS,
    FOLLOW_MAX_BACKOFF,
    FOLLOW_POLL,
    FOLLOW_READY_TIMEOUT,
    FOLLOW_STALL_TIMEOUT,
    FOLLOW_STOP_GRACE,
    HEALTH_SAY_INTERVAL,
    PROBE_SECONDS,
    WAIT_FOR_SYNC_TIMEOUT,
    Backoff,
)

logger = logging.getLogger(__name__)


def follow_folder(path: Path) -> Path:
    """pylts' working folder beside a followed copy; its presence marks ``path`` as a copy pylts made."""
    return path.with_name(f".{path.name}-pylts-follow")


def connect_readonly(path: str | Path, *, busy_timeout: float = FOLLOW_BUSY_TIMEOUT) -> sqlite3.Connection:
    """A read-only connection to a followed copy (``mode=ro``, a busy timeout); never switches it to WAL.

    Open one per unit of work: a connection kept open may serve pages from before litestream's last update.
    """
    target = Path(path).absolute()
    if not target.is_file():
        raise InvalidArgument(f"{target} does not exist or is not a file: start following first")
    return sqlite_files.read_only(target, busy_timeout=busy_timeout)


#: Where a `Follower` is: making its first copy, ``following`` (the copy matched the replica at the last
#: check, or none was made yet), ``behind`` the replica, ``rebuilding`` (litestream exited or stalled: a fresh copy
#: is being made), ``stopped``.
FollowState = Literal["starting", "following", "behind", "rebuilding", "stopped"]


class FollowStatus(BaseModel):
    """What a running `Follower` knows: its litestream, the copy's and the replica's positions, the lag."""

    model_config = ConfigDict(frozen=True)

    state: FollowState
    running: bool
    pid: int | None
    #: The replica transaction the copy holds (litestream's txids: one per sync of the primary, not per commit).
    follower_txid: int | None
    #: The replica's newest transaction at the last check (every ``check_interval`` seconds).
    replica_txid: int | None
    lag_transactions: int | None
    #: How long the copy has differed from the replica, as of the last check; 0 when they matched.
    lag_seconds: float | None
    #: Times litestream exited and a fresh copy was made.
    restarts: int
    #: Times the copy stalled (no progress for ``stall_timeout`` while the replica differed) and was rebuilt.
    rebuilds: int
    last_error: str | None


class _Stopped(Exception):
    """The follower was asked to stop while it was building a copy."""


class Follower:
    """A supervised ``litestream restore -f`` keeping ``path`` a read-only copy of the replica; a context manager.

    Ready when the first copy is in place. ``interval`` is litestream's poll of the replica;
    ``stall_timeout`` how long the copy may lag without advancing before it is rebuilt;
    ``check_interval`` how often the replica is listed; ``ready_timeout`` bounds each fresh copy.
    """

    def __init__(
        self,
        ctx: RunContext,
        path: Path,
        *,
        interval: float = FOLLOW_INTERVAL,
        stall_timeout: float = FOLLOW_STALL_TIMEOUT,
        check_interval: float = FOLLOW_CHECK_INTERVAL,
        ready_timeout: float = FOLLOW_READY_TIMEOUT,
        max_backoff: float = FOLLOW_MAX_BACKOFF,
    ) -> None:
        ctx.line.require_txids("following a replica (restore -f)")
        self.path = Path(path).absolute()
        self._ctx = ctx
        self._interval = _seconds("interval", interval, least=0.05)
        self._stall_timeout = _seconds("stall_timeout", stall_timeout)
        self._check_interval = _seconds("check_interval", check_interval)
        self._ready_timeout = _seconds("ready_timeout", ready_timeout)
        self._max_backoff = _seconds("max_backoff", max_backoff)
        self._folder = follow_folder(self.path)
        self._made_folder = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._locks = contextlib.ExitStack()
        self._thread: threading.Thread | None = None
        self._proc: ManagedProcess | None = None
        self._position_file: Path | None = None
        self._follower_txid: int | None = None
        self._replica_txid: int | None = None
        self._advanced_at = 0.0
        self._behind_since: float | None = None
        self._said_behind = False
        self._restarts = 0
        self._rebuilds = 0
        self._last_error: str | None = None
        self._printed_error = ""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Follower:
        """Build the first copy and put it in place, then follow; raise the cause if that fails."""
        try:
            self._claim_path()
            proc = self._launch(Deadline(self._ready_timeout))
        except BaseException:
            if self._made_folder:  # no copy was put in place: nothing at the path is marked as pylts' copy
                shutil.rmtree(self._folder, ignore_errors=True)
            self._locks.close()
            raise
        self._thread = threading.Thread(target=self._supervise, args=(proc,), name="pylts-follower", daemon=True)
        self._thread.start()
        where = self._ctx.replica.label()
        logger.info("following %s into %s, at transaction %s", where, self.path, _hex(self._follower_txid))
        return self

    def stop(self) -> None:
        """Stop litestream, and remove pylts' run folders (the copy stays)."""
        self._stopping.set()
        try:
            if self._thread is not None:
                self._thread.join(timeout=FOLLOW_STOP_GRACE + FOLLOW_LISTING_SECONDS + 30)
            self._remove_runs(keep=None)
        finally:
            self._locks.close()

    def __enter__(self) -> Follower:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _claim_path(self) -> None:
        """Hold the one-writer lock of ``path``; refuse a database that is not a copy pylts followed before."""
        sqlite_files.make_folder(self.path.parent)
        if self.path.is_dir():
            raise InvalidArgument(f"{self.path} is a folder: give the path of the database file to follow into")
        try:
            self._locks.enter_context(sqlite_files.replication_lock(self.path))
        except AlreadyReplicating as exc:
            raise FollowTargetInUse(
                f"cannot follow into {self.path}: process {exc.pid or '(unknown)'} on this machine replicates or "
                "follows it, and a follower would replace it; follow into another path (--path)",
                pid=exc.pid,
            ) from None
        if self.path.exists() and not self._folder.is_dir() and not sqlite_files.is_blank(self.path):
            raise DatabaseExists(
                f"{self.path} exists and is not a copy pylts followed before: following would replace it; "
                "move it away, or follow into another path (--path)"
            )
        self._made_folder = not self._folder.is_dir()
        self._folder.mkdir(exist_ok=True)
        self._remove_runs(keep=None)  # left by a follower that was killed

    # -- building a copy ---------------------------------------------------------------------

    def _launch(self, deadline: Deadline) -> ManagedProcess:
        """Start litestream on a fresh copy in a new run folder; return it once the copy is in place."""
        run = Path(tempfile.mkdtemp(prefix="run-", dir=self._folder))
        staged = run / self.path.name
        argv = self._ctx.line.follow_argv(self._ctx.replica, staged, interval=self._interval)
        proc = self._ctx.process(argv, on_line=self._note_line, stop_grace=FOLLOW_STOP_GRACE)
        try:
            with self._ctx.line.temporary_config(self._ctx.with_db(staged)):  # read once, as litestream starts
                proc.start()
                position = _position_file(staged)
                self._wait_for_copy(proc, position, deadline)
            _make_readable(staged)
            _install(staged, self.path)
        except BaseException:
            if proc.pid is not None:
                proc.stop()
            shutil.rmtree(run, ignore_errors=True)
            raise
        with self._lock:
            self._proc, self._position_file = proc, position
            self._follower_txid, self._advanced_at, self._behind_since = _read_txid(position), time.monotonic(), None
        self._remove_runs(keep=run)
        return proc

    def _wait_for_copy(self, proc: ManagedProcess, position: Path, deadline: Deadline) -> None:
        """Until litestream has restored the copy and noted its txid (it follows from then on)."""
        while _read_txid(position) is None:  # the file is created empty, then written: ready once it holds a txid
            if proc.returncode is not None:
                text = last_error(f"{proc.output('stderr')}\n{proc.output('stdout')}") or f"exit {proc.returncode}"
                prefix = f"following {self.path.name} failed"
                raise error_from_text(text, RestoreError, prefix, argv=proc.redacted_argv, secrets=proc.secrets)
            if self._stopping.is_set():
                raise _Stopped
            if deadline.expired:
                raise LitestreamTimeout(
                    f"the copy of {self.path.name} was not restored within {deadline.seconds:g} s; "
                    "for a big database or a slow link raise ready_timeout (--ready-timeout)",
                    argv=proc.redacted_argv,
                    output=proc.redact(proc.output("stdout")),
                )
            time.sleep(FOLLOW_POLL)

    def _remove_runs(self, keep: Path | None) -> None:
        for run in self._folder.glob("run-*"):
            if run != keep:
                shutil.rmtree(run, ignore_errors=True)

    # -- supervising -------------------------------------------------------------------------

    def _supervise(self, proc: ManagedProcess | None) -> None:
        """Watch litestream; when it exits make a fresh copy after a backoff, when it stalls at once."""
        backoff = Backoff(cap=self._max_backoff)
        while True:
            stalled = None
            if proc is not None:
                stalled = self._watch(proc)
                proc.stop(FOLLOW_STOP_GRACE)
                if self._stopping.is_set():
                    return
                if time.monotonic() - proc.started_at > FOLLOW_BACKOFF_RESET_SECONDS:
                    backoff.reset()
                self._count(stalled, f"litestream {exit_words(proc.returncode)}: {self._printed()}")
            if stalled is None:
                wait = backoff.next()
                logger.warning("%s; a fresh copy in %g s", self._last_error, wait)
                self._stopping.wait(wait)
            try:
                proc = self._launch(Deadline(self._ready_timeout))
            except _Stopped:
                return
            except Exception as exc:
                proc = None
                self._count(None, f"a fresh copy could not be made: {exc}")

    def _count(self, stalled: str | None, exited: str) -> None:
        """Count a rebuild (the copy ``stalled``) or a restart (litestream ``exited``), and say why."""
        with self._lock:
            if stalled:
                self._rebuilds += 1
            else:
                self._restarts += 1
            self._last_error = stalled or exited

    def _watch(self, proc: ManagedProcess) -> str | None:
        """Wait while litestream runs; return why the copy is stalled if it is."""
        next_check = time.monotonic()
        while proc.returncode is None and not self._stopping.is_set():
            self._note_position()
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + self._check_interval
                stalled = self._check_replica()
                if stalled:
                    return stalled
            self._stopping.wait(0.2)
        return None

    def _note_position(self) -> None:
        with self._lock:
            txid = _read_txid(self._position_file) if self._position_file else None
            if txid is not None and txid != self._follower_txid:
                self._follower_txid, self._advanced_at = txid, time.monotonic()
                if txid == self._replica_txid:
                    self._caught_up(txid)

    def _check_replica(self) -> str | None:
        """List the replica once; a copy that differs and has not advanced for ``stall_timeout`` s is stalled."""
        try:
            self._ctx.probe(Deadline(PROBE_SECONDS))
            replica = self._ctx.line.replica_txid(self._ctx, Deadline(FOLLOW_LISTING_SECONDS)) or 0
        except PyltsError as exc:
            with self._lock:
                self._last_error = f"the replica could not be listed: {exc}"
            return None
        self._note_position()
        now = time.monotonic()
        with self._lock:
            self._replica_txid = replica
            follower = self._follower_txid
            if follower == replica:
                self._caught_up(replica)
                return None
            self._behind_since = self._behind_since or now
            if not self._said_behind and now - self._behind_since >= HEALTH_SAY_INTERVAL:
                self._said_behind = True
                logger.info("the copy is behind the replica: at %s, the replica at %s", _hex(follower), _hex(replica))
            quiet = now - max(self._advanced_at, self._behind_since)
        if quiet < self._stall_timeout:
            return None
        return (
            f"the copy stayed at txid {follower} for {quiet:.0f} s while the replica is at {replica}; "
            "it was rebuilt from the replica"
        )

    def _caught_up(self, txid: int) -> None:
        """The copy holds the replica's newest transaction (called with the lock held)."""
        if self._said_behind:
            logger.info("the copy caught up with the replica, at transaction %s", _hex(txid))
        self._behind_since, self._said_behind = None, False

    def _note_line(self, line: OutputLine) -> None:
        error = last_error(line.text)
        if error:
            self._printed_error = redact(error, line.secrets)

    def _printed(self) -> str:
        return self._printed_error or "no error printed"

    # -- what it knows -----------------------------------------------------------------------

    def status(self) -> FollowStatus:
        """pid, the copy's and the replica's txid, the lag, restarts, rebuilds and the last error."""
        with self._lock:
            proc = self._proc
            running = proc is not None and proc.returncode is None and not self._stopping.is_set()
            follower, replica = self._follower_txid, self._replica_txid
            lag = None if follower is None or replica is None else max(replica - follower, 0)
            behind = self._behind_since
            return FollowStatus(
                state=self._state(running, lag),
                running=running,
                pid=proc.pid if running and proc is not None else None,
                follower_txid=follower,
                replica_txid=replica,
                lag_transactions=lag,
                lag_seconds=None if lag is None else (time.monotonic() - behind if behind else 0.0),
                restarts=self._restarts,
                rebuilds=self._rebuilds,
                last_error=self._last_error or self._printed_error or None,
            )

    def _state(self, running: bool, lag: int | None) -> FollowState:
        if self._stopping.is_set():
            return "stopped"
        if self._thread is None:
            return "starting"
        if not running:
            return "rebuilding"
        return "behind" if lag else "following"

    def connect(self, *, busy_timeout: float = FOLLOW_BUSY_TIMEOUT) -> sqlite3.Connection:
        """A read-only connection to the copy (`connect_readonly`); close it when done."""
        return connect_readonly(self.path, busy_timeout=busy_timeout)

    @contextlib.contextmanager
    def reading(self, *, busy_timeout: float = FOLLOW_BUSY_TIMEOUT) -> Iterator[sqlite3.Connection]:
        """A read-only connection for one unit of work, closed at the end of the block."""
        conn = self.connect(busy_timeout=busy_timeout)
        try:
            yield conn
        finally:
            conn.close()

    def wait_for(self, txid: int, timeout: float = WAIT_FOR_SYNC_TIMEOUT) -> bool:
        """Wait until the copy holds transaction ``txid``; False on timeout."""
        deadline = Deadline(timeout)
        while not deadline.expired:
            self._note_position()
            with self._lock:
                if self._follower_txid is not None and self._follower_txid >= txid:
                    return True
            time.sleep(FOLLOW_POLL)
        return False


def _seconds(name: str, value: float, *, least: float = 0.0) -> float:
    """``value`` if it is a finite number of seconds above ``least``, else `InvalidArgument` naming it.

    >>> _seconds("interval", 0.01, least=0.05)
    Traceback (most recent call last):
    ...
    pylts.errors.InvalidArgument: interval must be a number of seconds above 0.05, got 0.01
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not least < value < float("inf"):
        raise InvalidArgument(f"{name} must be a number of seconds above {least:g}, got {value!r}")
    return float(value)


def _position_file(copy: Path) -> Path:
    """Where litestream notes the txid a followed copy holds."""
    return copy.with_name(copy.name + "-txid")


def _read_txid(position: Path) -> int | None:
    try:
        return int(position.read_text(encoding="utf-8").strip(), 16)
    except (FileNotFoundError, ValueError):
        return None


def _make_readable(copy: Path) -> None:
    """Switch the fresh copy to rollback-journal mode (readers must not use WAL on it), then check it."""
    try:
        with contextlib.closing(sqlite3.connect(copy, timeout=FOLLOW_BUSY_TIMEOUT)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE").fetchone()
    except sqlite3.DatabaseError as exc:
        raise RestoreError(f"the restored copy {copy} cannot be switched to rollback-journal mode: {exc}") from None
    sqlite_files.remove([p for p in sqlite_files.sidecars(copy) if not p.name.endswith("-txid")])
    sqlite_files.check_integrity(copy, "quick")


def _install(copy: Path, path: Path) -> None:
    """Rename the checked copy over ``path``; readers see the old file or the new one, never a mix."""
    stale = [p for p in sqlite_files.sidecars(path) if p.exists()]
    if stale:
        logger.warning("removing files left beside %s: %s", path, ", ".join(p.name for p in stale))
        sqlite_files.remove(stale)
    copy.replace(path)
    sqlite_files.fsync_file_and_dir(path)


def _hex(txid: int | None) -> str:
    """A txid as litestream writes it (16 hex digits), or "none"."""
    return "none" if txid is None else f"{txid:016x}"
