"""Continuous replication beside the app: a supervised litestream, and running the app under it.

``Replicator`` starts ``litestream replicate`` for one or more databases, returns once
every database is in sync with its replica, restarts litestream (with backoff) if it
dies, and on exit stops it so it makes its final sync, raising ``FinalSyncFailed`` if
that sync did not reach the replica (litestream itself exits 0 even then).

``run_app`` runs a command (a web server, a job) inside that, and returns *its* exit code:

>>> import sys, tempfile
>>> from pylts.testing import LocalS3
>>> s3 = LocalS3().start()
>>> s3.create_bucket("backups")
>>> cfg = s3.config("backups", "app.db", db="app.db", folder=tempfile.mkdtemp())
>>> run_app([cfg], [sys.executable, "-c", "raise SystemExit(3)"])
3
>>> s3.stop()
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Protocol

from . import sqlite_files
from .boot_report import BootPolicy, BootReport
from .commands import config_option, config_yaml, expands
from .context import RunContext, write_private
from .continuity import ReplicaCheck
from .deadline import Deadline
from .errors import DatabaseInvalid, FinalSyncFailed, InvalidArgument, LitestreamTimeout, PyltsError, ReplicationError
from .events import SyncTracker
from .failures import error_from_text
from .health import CaughtUp, DatabaseHealth, Failing, Restarting, Unknown, health_summary
from .monitor import CheckedReplica as CheckedReplica
from .monitor import ReplicationStatus as ReplicationStatus
from .monitor import Restart as Restart
from .observers import Observer, behind_threshold, paused
from .output import exit_words, redact
from .runner import ManagedProcess
from .secondary import SecondarySchedule, SnapshotSchedule
from .timing import (
    ANSWER_SECONDS,
    APP_STOP_GRACE,
    FAILED_START_LISTING,
    FAILED_START_STOP_GRACE,
    HEALTH_SAY_INTERVAL,
    LOCK_POLL,
    MAX_BACKOFF,
    PAUSE_SECONDS,
    PROBE_SECONDS,
    READY_BASE_SECONDS,
    RECENT_RESTARTS,
    REPLICA_CHECK_INTERVAL,
    REPLICA_CHECK_SECONDS,
    REPLICATING_WAIT_SECONDS,
    RESTORE_TIMEOUT,
    SECONDARY_STOP_WAIT,
    SECONDS_PER_MB,
    SHUTDOWN_MARGIN,
    STALL_TIMEOUT,
    STOP_CHECK_SECONDS,
    STOP_TIMEOUT,
    STORE_BACK_SECONDS,
    STUCK_STOP_GRACE,
    SUPERVISOR_POLL,
    WAIT_FOR_SYNC_TIMEOUT,
    WATCHDOG_INTERVAL,
    Backoff,
)

logger = logging.getLogger(__name__)

_MB = 1024 * 1024
_RAISE_HINT = "for a big database or a slow link raise PYLTS_READY_TIMEOUT (--ready-timeout)"
_SEED_HINT = "or seed the replica first with `pylts replicate --once` (litestream 0.5)"


def automatic_ready_timeout(size_bytes: int) -> float:
    """How long the first sync may take when no ready timeout is set: 30 s plus 0.5 s per MB.

    >>> automatic_ready_timeout(0), automatic_ready_timeout(1024 ** 3)
    (30.0, 542.0)
    """
    return READY_BASE_SECONDS + SECONDS_PER_MB * size_bytes / _MB


class BootStep(Protocol):
    """What restores a missing database before replication starts (`pylts.boot.ensure_restored`)."""

    def __call__(
        self, ctx: RunContext, *, integrity_check: sqlite_files.IntegrityCheck, deadline: Deadline, policy: BootPolicy
    ) -> BootReport:
        """Compare the local database with its replica and restore, start fresh or refuse; what it did."""
        ...


@dataclass(frozen=True)
class ReplicatedDatabase:
    """What the supervisor needs of one database, built from its settings before replication starts.

    ``boot`` is the boot step its settings chose (`pylts.boot.ensure_restored` for `pylts.ConfigS3`): the
    supervisor runs it for each database before litestream starts, and does not import the boot itself.
    """

    context: RunContext
    boot_policy: BootPolicy = BootPolicy.REFUSE
    ready_timeout: float | None = None
    max_backoff: float = MAX_BACKOFF
    #: Seconds between two checks of the replica itself (0: none while running; None: the default).
    replica_check_interval: float | None = None
    #: When snapshots go to the second destination (``context.secondary``) and how many it keeps; None: none.
    secondary_schedule: SnapshotSchedule | None = None
    boot: BootStep = field(kw_only=True)

    @property
    def db(self) -> Path:
        return self.context.db

    def replication(self) -> ReplicatedDatabase:
        """Itself: a `Replicable` that is already planned."""
        return self


class Replicable(Protocol):
    """What a `Replicator` takes for each database: settings (`pylts.ConfigS3`) or a `ReplicatedDatabase`."""

    def replication(self) -> ReplicatedDatabase:
        """The database's run plan and start options."""
        ...


@dataclass(frozen=True)
class _Pause:
    """litestream stopped by pylts to write fresh snapshots: what health() said then, and why it stopped."""

    before: dict[Path, DatabaseHealth]
    at: float  #: ``time.monotonic()`` of the stop
    why: str


class _HeldWals:
    """pylts' hold on each database's WAL (`sqlite_files.wal_kept`) while no litestream holds it.

    Kept when a run of litestream ends, released per database once the next run has confirmed a
    sync of it (or before the stop's one-shot sync), and closed for good when the stop ends:
    thread-safe, since the stop releases what the supervisor's thread kept.
    """

    def __init__(self) -> None:
        self._held: dict[Path, contextlib.ExitStack] = {}
        self._lock = threading.Lock()
        self._closed = False

    def keep(self, dbs: Iterable[Path]) -> None:
        """Hold each of ``dbs`` not held yet; one that cannot be (gone, not SQLite) is said and left."""
        with self._lock:
            for db in dbs:
                if self._closed or db in self._held:
                    continue
                stack = contextlib.ExitStack()
                try:
                    stack.enter_context(sqlite_files.wal_kept(db))
                except PyltsError as exc:
                    logger.warning("%s; commits made while litestream is stopped may be checkpointed unread", exc)
                    continue
                self._held[db] = stack

    def held(self) -> list[Path]:
        with self._lock:
            return list(self._held)

    def release(self, db: Path) -> None:
        with self._lock:
            stack = self._held.pop(db, None)
        if stack is not None:
            stack.close()

    def close(self) -> None:
        """Release every hold, and keep none from now on."""
        with self._lock:
            self._closed = True
            held, self._held = self._held, {}
        for stack in held.values():
            stack.close()


class Replicator:
    """A supervised ``litestream replicate`` for one or more databases; use it as a context manager.

    ``ready_timeout`` bounds the start (restoring a missing database, then the first
    sync). Without one, the configs' ``ready_timeout`` (``PYLTS_READY_TIMEOUT``) is used,
    else an automatic value: the restore may take ``RESTORE_TIMEOUT`` s and the first sync
    `automatic_ready_timeout` of the databases' size (30 s + 0.5 s per MB). A big database
    on a fresh replica is uploaded whole before the app may start: litestream cannot resume
    an interrupted snapshot, so a start that gives up begins the upload again next time.

    ``stall_timeout`` is the watchdog's threshold: a commit the replica does not hold
    after that long (plus 0.5 s per MB of WAL) makes ``status()`` report the database
    not in sync, and litestream is restarted if the store answers (a stuck upload).
    ``stop_timeout`` bounds the final sync at exit (litestream's
    ``shutdown-sync-timeout`` on 0.5). A litestream that exits is started again after
    `FIRST_BACKOFF` s if its run confirmed a sync, else after a wait doubled at each
    failed run up to ``max_backoff`` (default: the configs' ``max_backoff``,
    ``PYLTS_MAX_BACKOFF``); ``health()`` says `Restarting` meanwhile. Databases replicated together share one
    litestream process, so they must share credentials.

    On litestream 0.5, what it knows comes from litestream's control socket
    (`pylts.lines.v05.observer.SocketObserver`); on 0.3, from its debug log.
    """

    def __init__(
        self,
        configs: Sequence[Replicable],
        *,
        ready_timeout: float | None = None,
        stop_timeout: float = STOP_TIMEOUT,
        max_backoff: float | None = None,
        stall_timeout: float = STALL_TIMEOUT,
        replica_check_interval: float | None = None,
    ) -> None:
        if not configs:
            raise InvalidArgument("Replicator needs at least one ConfigS3")
        databases = [cfg.replication() for cfg in configs]
        if ready_timeout is None:
            ready_timeout = max((db.ready_timeout for db in databases if db.ready_timeout is not None), default=None)
        self._ready_timeout = None if ready_timeout is None else Deadline(ready_timeout).seconds  # Deadline checks it
        self._stop_timeout = Deadline(stop_timeout).seconds
        self._stall_timeout = Deadline(stall_timeout).seconds
        if max_backoff is None:  # one litestream for all: the shortest wait asked for protects every database
            max_backoff = min(db.max_backoff for db in databases)
        self._max_backoff = Deadline(max_backoff).seconds  # Deadline checks it
        self._ctx = _shared_context([db.context for db in databases])
        self._databases = databases
        self._contexts = {db.db: db.context for db in databases}
        self._dbs = {db.db: db.context.replica for db in databases}
        self._tracker = SyncTracker(list(self._dbs), stall_timeout=self._stall_timeout)
        self._observer: Observer = self._ctx.line.observer(self._contexts, self._tracker)
        self._config_path = sqlite_files.replicate_config_path_for(self._ctx.db)
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._locks = contextlib.ExitStack()
        self._proc: ManagedProcess | None = None
        self._exit_code: int | None = None
        self._restarts = 0
        self._last_error: str | None = None
        self._restart_at: float | None = None  # time.monotonic() of the next start, while waiting for it
        self._store_silent = False
        self._answering_since: float | None = None
        self._stop_grace: float | None = None
        self._boot_reports: list[BootReport] = []
        self._positions_at_boot: dict[Path, str | None] = {}  # the line's own, once the boot is done
        self._final_failure: str | None = None
        self._bug: Exception | None = None  # what ended the supervisor thread, raised by stop()
        config = config_option(self._config_path, expand=expands(self._dbs))  # expanded: it names an SSE-C key
        self._argv = [str(self._ctx.litestream.path), "replicate", *config]
        if replica_check_interval is None:  # one database's 0 (off) does not turn off the others' checks
            given = [db.replica_check_interval for db in databases if db.replica_check_interval]
            off = all(db.replica_check_interval == 0 for db in databases)
            replica_check_interval = 0.0 if off else min(given, default=REPLICA_CHECK_INTERVAL)
        if not (replica_check_interval == 0 or 1 <= replica_check_interval < math.inf):
            raise InvalidArgument(
                f"replica_check_interval={replica_check_interval!r}: give at least 1 (seconds), or 0 to turn checks off"
            )
        self._check_interval = replica_check_interval
        self._checked_at = -math.inf  # time.monotonic() the last check of the replicas began
        self._check_lock = threading.Lock()
        #: What the replica itself was last found to lack, per database, until a check proves it whole again.
        self._problems: dict[Path, str] = {}
        self._ready = False  # the start is over: health changes are news from now on
        self._health_said: dict[Path, str] = {}  # each database's state in the last line logged about it
        self._health_looked_at = 0.0
        self._calm: set[Path] = set()  # databases seen caught up once since they were said to be otherwise
        self._snapshotted_restarts = 0  # the restarts a fresh snapshot was owed for
        #: Databases whose replica is owed a fresh snapshot, each with the problem it heals (None: a restart of
        #: litestream, which can leave a hole no listing shows); written while no litestream runs (`_pay_owed`).
        self._owed: dict[Path, str | None] = {}
        #: The databases a check found owed a snapshot, the store answering: litestream is stopped for them.
        self._pay_now: tuple[Path, ...] = ()
        self._paid_at = -math.inf  # when a payment last left a snapshot owed: the next waits a check interval
        #: Set while litestream is stopped for fresh snapshots, until the next run confirmed a sync of every database.
        self._pause: _Pause | None = None
        self._wals = _HeldWals()
        self._locks.callback(self._wals.close)  # at the end of the stop, or of a failed start
        #: Snapshots to each database's second destination, in threads of their own (pylts.secondary).
        self._secondaries: dict[Path, SecondarySchedule] = {}
        self._restart_log: deque[Restart] = deque(maxlen=RECENT_RESTARTS)
        self._checks: dict[Path, CheckedReplica] = {}  # each database's last check of the replica itself

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Replicator:
        """Start litestream; return once every database is in sync, or raise the cause and stop.

        A missing database is first restored from its replica (litestream would
        otherwise start a new history beside the backup); with no backup at all an
        empty database is created, so replication is live before the app starts.
        A file that is not SQLite raises ``DatabaseInvalid`` before litestream runs, and a
        database another process on this machine replicates raises ``AlreadyReplicating``.
        """
        deadline = Deadline(self._ready_timeout) if self._ready_timeout else None
        try:
            for db in self._dbs:  # one replicator per database on this machine, until stop()
                sqlite_files.make_folder(db.parent)
                self._locks.enter_context(sqlite_files.replication_lock(db))
            for ctx in self._contexts.values():  # each database's own endpoint
                ctx.probe(deadline or Deadline(PROBE_SECONDS))
            self._prepare_databases(deadline)
        except BaseException:
            self._locks.close()
            self._observer.close()
            raise
        # an explicit timeout keeps time for stopping; the automatic one grows with the databases
        wait = (
            max(deadline.remaining() - FAILED_START_STOP_GRACE, 0.0)
            if deadline
            else automatic_ready_timeout(self._database_bytes())
        )
        started = time.monotonic()
        self._thread = threading.Thread(target=self._supervise_until_a_bug, name="pylts-replicator", daemon=True)
        self._thread.start()
        if self._wait_ready(started, wait):
            for ctx in self._contexts.values():
                logger.info("replicating %s to %s", ctx.db, ctx.replica.label())
            self._ready = True
            self._check_replicas(running=True, deadline=deadline)  # heals too within the start's deadline, if any
            self._start_secondaries()
            return self
        error = self._bug or self._startup_error(wait)
        self._shutdown(grace=FAILED_START_STOP_GRACE)  # nothing was synced yet: no final sync to wait for
        try:
            self._forget_positions_the_store_never_got()
        finally:
            self._locks.close()
        raise error

    def _forget_positions_the_store_never_got(self) -> None:
        """After a failed start: drop a first position litestream made locally if the store holds none.

        Kept, it would tell the next boot this database was replicated before, and that boot would take the
        empty replica for one emptied since (`ReplicaMissing`) and refuse it. Only a position this start made
        goes (there was none when the boot was done), only from a replica that lists empty, and only once
        litestream has ended; a store that cannot be listed leaves it in place.
        """
        if self._thread is not None and self._thread.is_alive():
            return
        for database in self._databases:
            ctx = database.context
            made_here = ctx.db in self._positions_at_boot and self._positions_at_boot[ctx.db] is None
            if not made_here or ctx.line.local_position(ctx.db) is None:
                continue
            try:
                held = ctx.line.replica_positions(ctx, Deadline(FAILED_START_LISTING))
            except PyltsError as exc:
                logger.warning(
                    "kept litestream's first position of %s: the replica could not be listed (%s)", ctx.db, exc
                )
                continue
            if not held:
                sqlite_files.remove([sqlite_files.litestream_meta(ctx.db)])
                logger.info(
                    "forgot litestream's first position of %s: the start failed before the store held it", ctx.db
                )

    def _start_secondaries(self) -> None:
        """Start the snapshot schedule of each database with a second destination (none blocks the primary)."""
        for database in self._databases:
            planned = database.secondary_schedule
            if database.context.secondary is not None and planned is not None:
                self._secondaries[database.db] = SecondarySchedule(database.context, planned).start()
                logger.info(
                    "a snapshot of %s goes to the second destination %s every %g s (%d kept)",
                    database.db.name,
                    database.context.secondary.replica.label(),
                    planned.interval,
                    planned.keep,
                )

    def _prepare_databases(self, deadline: Deadline | None) -> None:
        """Restore each missing database (or create it empty), then check each is SQLite.

        The restore shares the start's deadline; without one each database gets ``RESTORE_TIMEOUT``.
        """
        for database in self._databases:
            ctx = database.context
            restoring = deadline or Deadline(RESTORE_TIMEOUT)
            try:
                report = database.boot(ctx, integrity_check="quick", deadline=restoring, policy=database.boot_policy)
            except LitestreamTimeout as exc:
                raise LitestreamTimeout(
                    f"replication did not start: restoring {ctx.db} from {ctx.replica.url()} "
                    f"did not finish within {restoring.seconds:.3g} s; {_RAISE_HINT}",
                    argv=exc.argv,
                    output=exc.output,
                ) from None
            self._boot_reports.append(report)
            self._positions_at_boot[ctx.db] = ctx.line.local_position(ctx.db)
            if not ctx.db.exists() or sqlite_files.is_blank(ctx.db):  # fresh, or quarantined with no backup
                sqlite_files.create_empty(ctx.db)
            sqlite_files.require_sqlite_header(ctx.db)

    def _database_bytes(self) -> int:
        return sum(_file_size(path) for db in self._dbs for path in (db, sqlite_files.wal_path(db)))

    def _wait_ready(self, started: float, wait: float) -> bool:
        """`Observer.wait_ready`: False at once on an error litestream named, or when a bug ended the supervision."""
        deadline = Deadline(max(wait, 0.001))
        while self._thread is not None and self._thread.is_alive():
            if self._observer.wait_ready(started, min(deadline.remaining(), SUPERVISOR_POLL)):
                return True
            if deadline.expired or self._tracker.named_error:
                return False
        return False

    def _startup_error(self, waited: float) -> Exception:
        reported = self._tracker.named_error or self._last_error  # a known cause, or litestream exited
        if reported:
            named = self._tracker.named_cause if self._tracker.named_error else None  # read before secrets were masked
            return error_from_text(
                reported, ReplicationError, "replication did not start", argv=self._argv, cause=named
            )
        cause = f"; litestream reported: {self._tracker.last_error}" if self._tracker.last_error else ""
        return LitestreamTimeout(
            f"replication was not ready within {waited:.3g} s: {self._pending_step()}{cause}; "
            f"{_RAISE_HINT}, {_SEED_HINT}",
            argv=self._argv,
            output=self._tracker.last_error or "",
        )

    def _pending_step(self) -> str:
        """Which step of the start had not finished, for the first database still behind."""
        behind = [db for db in self._tracker.snapshot() if not db.in_sync] or self._tracker.snapshot()
        db = behind[0]
        size = f"{db.path} ({_file_size(db.path) / _MB:.1f} MB)"
        if self._proc is None or db.db_position is None:
            return f"starting litestream: it had not begun the first sync of {size}"
        return f"the first sync of {size} had not finished (replica at {db.replica_position or 'nothing yet'})"

    def _supervise_until_a_bug(self) -> None:
        """`_supervise`; a bug of pylts (a ``TypeError``...) ends it at once, to be raised by `stop`, never retried."""
        try:
            self._supervise()
        except Exception as exc:
            self._bug = exc
            self._last_error = redact(f"replication stopped on an unexpected error: {exc!r}", self._ctx.secrets)
            logger.error("%s; it is raised when the replication stops", self._last_error)

    def _supervise(self) -> None:
        """Run litestream until asked to stop, restarting it with backoff when it dies or is stuck.

        A stop asked for between two runs still starts litestream once more, for its final
        sync: commits made since the last run ended are in no replica yet.
        """
        backoff = Backoff(cap=self._max_backoff)
        while True:
            began, pausing = time.monotonic(), False
            try:
                self._write_config()
                with self._ctx.process(
                    self._argv, on_line=self._tracker.feed_output, stop_grace=self._stop_timeout + SHUTDOWN_MARGIN
                ) as proc:
                    self._proc = proc
                    stuck = self._watch(proc)
                    self._wals.keep(self._dbs)  # until the next litestream's first confirmed sync of each
                    if self._stopping.is_set():
                        if self._stop_grace is None:  # a final sync is due (a failed start has nothing to sync)
                            _wait_until_replicating(proc, self._tracker)  # a SIGTERM before that skips it
                            self._final_failure = self._observer.final_sync(self._stop_timeout)
                        self._exit_code = proc.stop(self._stop_grace)
                        return
                    if stuck:
                        self._count_restart(f"{stuck}; litestream was restarted")  # counted before the stop grace
                        proc.stop(STUCK_STOP_GRACE)
                    elif proc.returncode is None:  # stopped for the fresh snapshots owed: no failure, no backoff
                        pausing = True
                        owed = ", ".join(db.name for db in self._pay_now)
                        logger.debug("stopping litestream to write a fresh snapshot of %s", owed)
                        before = {state.path: state for state in self._observer.health(True)}  # not an outage
                        why = f"litestream was stopped to write a fresh snapshot of {owed}"
                        self._pause = _Pause(before, time.monotonic(), f"{why} and has not confirmed a sync since")
                        if proc.stop(self._stop_timeout + SHUTDOWN_MARGIN) != 0:  # killed: like any restart
                            self._count_restart("litestream did not stop for a fresh snapshot; it was killed")
                    else:
                        self._count_restart(f"litestream {exit_words(proc.returncode)}: {self._printed_error()}")
            except (PyltsError, OSError) as exc:  # what litestream, the store and the files fail with; not bugs
                self._count_restart(f"litestream could not run: {exc}")
                if self._stopping.is_set():
                    return
            finally:
                self._observer.after_run()  # nothing it showed proves the commits made from now on
            if pausing:
                with self._check_lock:
                    self._pay_owed(None)  # what a stop leaves owed, the stop writes (`_last_sync`)
                continue
            if self._tracker.synced_since(began):  # a healthy run: restart at once, the app's commits wait
                backoff.reset()
            wait = backoff.next()
            logger.warning("%s; restarting in %g s", self._last_error, wait)
            self._restart_at = time.monotonic() + wait
            self._stopping.wait(wait)
            self._restart_at = None

    def _write_config(self) -> None:
        """litestream's config beside the first database, rewritten at each (re)start: owner-only, no secrets."""
        text = config_yaml(
            self._ctx.line,
            self._dbs,
            log_level=self._observer.log_level,
            shutdown_sync_timeout=self._stop_timeout,
            tuning=self._ctx.tuning,  # shared by the databases (_shared_context)
        )
        self._observer.before_run()
        write_private(self._config_path, self._observer.config_section() + text)

    def _count_restart(self, reason: str) -> None:
        self._pause = None  # a failure: health says so, not what it said before a pause
        self._restarts += 1
        self._last_error = reason
        self._restart_log.append(Restart(at=datetime.now(timezone.utc), reason=reason))

    def _printed_error(self) -> str:
        return self._tracker.last_error or "no error printed"

    def _watch(self, proc: ManagedProcess) -> str | None:
        """Wait while litestream runs; return why it is stuck if the watchdog finds it so.

        Also returns (None, litestream still running) when a check found a fresh snapshot owed and
        this litestream has synced since its start: the supervisor stops it to write the snapshot.
        """
        next_check = time.monotonic() + WATCHDOG_INTERVAL
        while proc.returncode is None and not self._stopping.is_set():
            self._stopping.wait(SUPERVISOR_POLL)
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + WATCHDOG_INTERVAL
                # Once a second, like litestream's own local syncs: polling its socket five times as often
                # nearly doubled the CPU litestream and pylts used at 100 tx/s (benchmarks/supervision.py).
                # Waits (readiness, wait_for_sync, the final sync) poll on their own, faster.
                self._poll()
                if self._pause is not None and (
                    self._tracker.synced_since(proc.started_at) or time.monotonic() - proc.started_at > PAUSE_SECONDS
                ):
                    self._pause = None  # this litestream answers for every database again, or must say why not
                for db in self._wals.held():
                    if self._tracker.covered_since(db, proc.started_at):
                        self._wals.release(db)  # this litestream read its WAL: it holds it itself
                stuck = self._stuck(proc.started_at)
                if stuck:
                    return stuck
                if self._replica_check_due(proc.started_at):
                    self._check_replicas(running=True)
                owed = self._pay_now  # once this litestream has synced them
                if owed and all(self._tracker.covered_since(db, proc.started_at) for db in owed):
                    return None
        return None

    def _poll(self) -> None:
        """Bring the tracker up to date; when pylts' INFO records are shown, also say each change of health.

        Health is looked at every `HEALTH_SAY_INTERVAL` s at most (it costs more than a poll). A database
        is said caught up again only once seen so twice in a row: a lag around the threshold under load
        would otherwise say behind / caught up every few seconds.
        """
        now = time.monotonic()
        said = self._ready and logger.isEnabledFor(logging.INFO)  # the start says how it went on its own
        if not said or now - self._health_looked_at < HEALTH_SAY_INTERVAL:
            self._observer.poll()
            return
        self._health_looked_at = now
        for state in self.health():  # polls the observer too
            if isinstance(state, Unknown):  # litestream starting or not answering: nothing new to say
                continue
            before = self._health_said.get(state.path, "caught_up")  # "replicating ..." said so at the start
            if state.state == before:
                self._calm.discard(state.path)
                continue
            if isinstance(state, CaughtUp) and state.path not in self._calm:
                self._calm.add(state.path)  # seen once: said if it is still so at the next look
                continue
            self._calm.discard(state.path)
            self._health_said[state.path] = state.state
            logger.info("%s is %s", state.path.name, health_summary(state))

    def _stuck(self, started: float) -> str | None:
        """The watchdog: a database behind for too long while the store answers means litestream is stuck.

        Each database gets ``stall_timeout`` plus 0.5 s per MB of WAL (a big transaction
        takes time to upload), counted from this litestream's start at the earliest. Only a
        silent litestream is stuck: one that still reports positions is retrying on its own.
        """
        now = time.monotonic()
        for db in self._dbs:
            self._tracker.note_commit(db, self._commit_time(db))
        for db, lag in self._tracker.behind(now).items():
            limit = self._stall_timeout + SECONDS_PER_MB * _file_size(sqlite_files.wal_path(db)) / _MB
            if lag > limit and now - max(started, self._tracker.reported_at(db)) > limit:
                self._store_silent = not self._contexts[db].store_answers(ANSWER_SECONDS)
                self._answering_since = None if self._store_silent else (self._answering_since or now)
                if self._answering_since is not None and now - self._answering_since >= STORE_BACK_SECONDS:
                    self._answering_since = None
                    return f"{db.name} was not in sync for {lag:.0f} s while the store answered"
                return None
        self._answering_since = None
        return None

    def stop(self) -> None:
        """Stop litestream after its final sync; raise ``FinalSyncFailed`` if the sync failed.

        An unexpected error that ended the supervision (a bug, never retried) is raised here.

        On litestream 0.5 its control socket must first show a sync of everything committed
        before the stop (within ``stop_timeout``); one it did not show is the failure reported. On litestream
        0.5 one more one-shot sync (``replicate -once``) follows, and the
        replica itself is asked (one listing per database) whether it holds everything:
        what litestream last reported is not proof (a litestream restarted by the watchdog
        was measured missing its last 12-26 commits at its final sync; the one-shot sync
        brings them over).
        """
        began = time.monotonic()
        for schedule in self._secondaries.values():  # first: the primary's final sync never waits on the second store
            schedule.signal_stop()  # all at once, each ending its one-shot litestream; then one wait for them all
        waiting = Deadline(SECONDARY_STOP_WAIT)
        for schedule in self._secondaries.values():
            schedule.join(waiting.remaining())
        try:
            failure = self._shutdown() or self._last_sync()
        finally:
            self._locks.close()
        if not failure and self._bug is None:
            for ctx in self._contexts.values():
                logger.info("final sync of %s done in %.1f s: %s", ctx.db.name, time.monotonic() - began, _held(ctx))
        if self._bug is not None:
            if failure:
                logger.error("the final sync failed: %s", failure)
            raise self._bug
        if failure:
            raise FinalSyncFailed(
                f"the final sync failed: {failure}", argv=self._argv, returncode=self._exit_code, output=failure
            )

    def _last_sync(self) -> str | None:
        """Once litestream stopped: the replica checked (and healed), then on 0.5 a one-shot sync and its proof."""
        deadline = Deadline(STOP_CHECK_SECONDS)
        if not self._check_replicas(running=False, deadline=deadline):  # with the snapshot a restart still owes
            return f"a check of the replicas was still running after {deadline.seconds:g} s"
        reasons = []
        try:
            for ctx in self._contexts.values():
                # The one-shot sync holds the WAL itself. Beside a read transaction of pylts', its checkpoint at its
                # end could not fold a big WAL, and the commit litestream writes after a checkpoint was in no file.
                self._wals.release(ctx.db)
                reasons.append(ctx.line.last_sync(ctx, deadline))
        except PyltsError as exc:
            return f"the one-shot sync after the final sync failed: {exc}"
        return "; ".join(reason for reason in [*self._problems.values(), *reasons] if reason) or None

    # -- the replica itself -------------------------------------------------------------------

    def _replica_check_due(self, started: float) -> bool:
        """Once after each (re)start of litestream when it reports ready, then every ``replica_check_interval``."""
        now = time.monotonic()
        if self._checked_at < started:
            return self._tracker.in_sync(started) or now - started >= (self._check_interval or REPLICA_CHECK_INTERVAL)
        return bool(self._check_interval) and now - self._checked_at >= self._check_interval

    def _check_replicas(self, *, running: bool, deadline: Deadline | None = None) -> bool:
        """List each replica in the store; a gap or a wipe makes it owed a fresh snapshot, and so does a restart.

        The snapshots owed are written here once litestream is stopped (not ``running``); while it
        runs, the supervisor stops it for them (`_watch`, `_pay_owed`) once a check found the store
        answering. Each listing and snapshot gets ``deadline`` (the start's, the stop check's), else
        `REPLICA_CHECK_SECONDS` and a snapshot's own. False: another check still ran when ``deadline`` passed.
        """
        if not self._check_lock.acquire(timeout=-1 if deadline is None else deadline.remaining()):
            return False
        try:
            self._checked_at = time.monotonic()
            if self._restarts > self._snapshotted_restarts and self._ctx.line.has_snapshots:
                for db in self._dbs:
                    self._owed.setdefault(db, None)
                self._snapshotted_restarts = self._restarts
            answered = [self._check_replica(ctx, deadline) for ctx in self._contexts.values()]
            if not running:
                self._pay_owed(deadline)
            retry = time.monotonic() - self._paid_at >= (self._check_interval or REPLICA_CHECK_INTERVAL)
            self._pay_now = tuple(self._owed) if all(answered) and retry else ()
        finally:
            self._check_lock.release()
        return True

    def _check_replica(self, ctx: RunContext, deadline: Deadline | None) -> bool:
        """One listing of the replica: whole, or a problem (owed a fresh snapshot where the line writes one).

        False: the store did not answer.
        """
        try:
            check = self._listed(ctx, deadline)
        except PyltsError as exc:  # the store is down or refuses: litestream's own errors say so too
            logger.warning("could not check the replica of %s: %s", ctx.db, exc)
            return False
        logger.debug("checked the replica of %s: %s", ctx.db.name, check.problem or _proof(check))
        self._checks[ctx.db] = CheckedReplica(at=datetime.now(timezone.utc), check=check)
        after_restart = ctx.db in self._owed and self._owed[ctx.db] is None  # a listing cannot show what that heals
        if check.problem is None:
            if not after_restart:
                if self._owed.pop(ctx.db, None) and self._problems.pop(ctx.db, None):  # gone before a heal
                    logger.info("the replica of %s is whole again (no snapshot needed): %s", ctx.db.name, _proof(check))
                self._whole(ctx.db, check)
            return True
        known = ctx.db in self._problems
        self._problems[ctx.db] = check.problem  # health() and status() say so from now on
        healable = ctx.line.has_snapshots and ctx.db.exists()
        if healable and not after_restart:  # the snapshot after a restart heals it too
            self._owed[ctx.db] = check.problem
        if not known:
            heal = "; writing a fresh snapshot of the database to heal it" if healable else ""
            logger.warning("%s%s", check.problem, heal)
        return True

    def _pay_owed(self, deadline: Deadline | None) -> None:
        """Write the fresh snapshots owed (no litestream runs: its check lock held), each then listed again.

        A snapshot after a restart: drill 16 (20 kill -9s of litestream 0.5.17 under 100 tx/s)
        restored 317 of 11,306 acknowledged rows missing from the middle of the history, with an
        unbroken txid chain; no listing can see that hole, and a snapshot copies the database
        itself, so the latest restore holds every row again. A heal: the same, for a gap or a wipe
        a listing found. One that fails is a problem, and stays owed for the next check.
        """
        self._pay_now = ()
        for ctx in self._contexts.values():
            if ctx.db not in self._owed or (deadline is None and self._stopping.is_set()):
                continue
            problem = self._owed[ctx.db]
            try:
                if not ctx.db.exists():
                    del self._owed[ctx.db]  # nothing to snapshot: said, not retried
                    raise DatabaseInvalid(f"{ctx.db} is missing")
                ctx.line.heal_replica(ctx, deadline or _heal_deadline(ctx))
            except PyltsError as exc:
                self._unpaid(ctx.db, problem, exc)
                continue
            del self._owed[ctx.db]
            if problem is None:
                logger.info("wrote a fresh snapshot of %s after litestream's restart", ctx.db.name)
            self._check_replica(ctx, deadline)
        if self._owed:
            self._paid_at = time.monotonic()

    def _unpaid(self, db: Path, problem: str | None, exc: PyltsError) -> None:
        """A fresh snapshot owed could not be written: a problem until a later check writes it."""
        if problem is None:
            logger.warning("could not write a fresh snapshot of %s after litestream's restart: %s", db, exc)
            failed = f"a fresh snapshot of {db.name} after litestream's restart failed: {exc}"
            checked = self._checks.get(db)
            found = None if checked is None else checked.check.problem  # what the last listing found, if anything
            self._problems[db] = "; ".join(filter(None, [found, failed]))
        else:
            logger.warning("could not heal the replica of %s: %s", db, exc)
            self._problems[db] = f"{problem}; writing a fresh snapshot failed: {exc}"

    def _listed(self, ctx: RunContext, deadline: Deadline | None) -> ReplicaCheck:
        """`Line.check_replica`, told the position litestream said the replica holds (read before the listing)."""
        reported = self._tracker.replica_position(ctx.db)
        held = None if reported is None else reported.index
        return ctx.line.check_replica(ctx, deadline or Deadline(REPLICA_CHECK_SECONDS), held=held)

    def _whole(self, db: Path, check: ReplicaCheck) -> None:
        """The replica was proven whole: a problem found before is healed."""
        if self._problems.pop(db, None) is not None:
            logger.info("the replica of %s was healed with a fresh snapshot: %s", db.name, _proof(check))

    def _shutdown(self, grace: float | None = None) -> str | None:
        """Stop (``grace`` seconds, default the stop timeout), remove the config; return why the final sync failed."""
        self._stop_grace = grace
        self._stopping.set()
        if self._thread is not None:
            joined = 2 * self._stop_timeout + 30  # the last confirmed sync, then the shutdown sync
            self._thread.join(timeout=joined)
        self._config_path.unlink(missing_ok=True)
        self._observer.close()
        if self._thread is not None and self._thread.is_alive():  # no one-shot sync beside a litestream still stopping
            return f"litestream was still being stopped after {joined:g} s (a check of the replica was running)"
        if self._final_failure:  # the socket's answer to the last sync asked before SIGTERM: a fact
            return self._final_failure
        if self._tracker.shutdown_error:
            return self._tracker.shutdown_error
        if self._exit_code not in (0, None):
            return f"litestream {exit_words(self._exit_code)}: {self._printed_error()}"
        behind = [str(db.path) for db in self._tracker.snapshot() if not db.in_sync]
        return f"the replica of {', '.join(behind)} was behind when litestream stopped" if behind else None

    def __enter__(self) -> Replicator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.stop()
            return
        try:
            failure = self._shutdown() or self._last_sync()  # do not hide the exception already on its way
        finally:
            self._locks.close()
        if failure:
            logger.error("the final sync failed: %s", failure)

    # -- what it knows ----------------------------------------------------------------------

    @property
    def boot_reports(self) -> list[BootReport]:
        """What the start found for each database (restored, fresh, existing...), with each restore's report."""
        return list(self._boot_reports)

    def status(self) -> ReplicationStatus:
        """pid, restarts, last error (a stall first), each database's positions, lag and last sync time.

        While litestream waits to be restarted, ``restart_in`` says in how many seconds.
        """
        proc = self._proc
        restart_in = self._restart_in()
        running = proc is not None and proc.returncode is None and not self._stopping.is_set()
        stalls = self._tracker.stall_errors()
        if stalls and self._store_silent:
            stalls.append("the store does not answer, so litestream is left to retry")
        problems = dict(self._problems)
        errors = [*problems.values(), *stalls, self._last_error or self._tracker.last_error]
        databases = [
            db.model_copy(update={"in_sync": False}) if db.path in problems else db for db in self._tracker.snapshot()
        ]
        return ReplicationStatus(
            running=running,
            pid=proc.pid if running and proc is not None else None,
            restarts=self._restarts,
            last_error="; ".join(error for error in errors if error) or None,
            databases=databases,
            restart_in=restart_in,
        )

    def health(self) -> list[DatabaseHealth]:
        """Each database's state now: `CaughtUp`, `Behind`, `Failing`, `Restarting` or `Unknown` (`pylts.health`).

        It never makes litestream sync (a sync can hang while the store is down), so it
        answers within a few seconds; on litestream 0.5 from its control socket. With a
        second destination, ``secondary_age`` is the age of its newest snapshot proven by listing.
        """
        states = self._primary_health()
        if not self._secondaries:
            return states
        return [
            state.model_copy(update={"secondary_age": schedule.age(), "secondary_error": schedule.last_error})
            if (schedule := self._secondaries.get(state.path)) is not None
            else state
            for state in states
        ]

    def secondary_schedules(self) -> dict[Path, SecondarySchedule]:
        """The snapshot schedule of each database with a second destination, while replication runs."""
        return dict(self._secondaries)

    def _primary_health(self) -> list[DatabaseHealth]:
        if self._bug is not None:  # supervision ended: litestream runs no more, whatever it last reported
            return [Failing(path=db, error=self._last_error or "") for db in self._dbs]
        restart_in = self._restart_in()
        if restart_in is not None:
            lags = self._tracker.behind()
            return [
                Restarting(path=db, error=self._last_error or "", restart_in=restart_in, behind_seconds=lags.get(db))
                for db in self._dbs
            ]
        proc = self._proc
        running = proc is not None and proc.returncode is None and not self._stopping.is_set()
        problems = dict(self._problems)  # what the replica itself lacks outweighs what litestream believes
        pause = None if self._stopping.is_set() else self._pause
        return [
            Failing(
                path=state.path,
                error=problems[state.path],
                seconds_since_sync=state.seconds_since_sync,
                behind_seconds=state.behind_seconds,
            )
            if state.path in problems
            else self._while_paused(pause, state.path)
            if pause is not None and isinstance(state, Unknown)
            else state
            for state in self._observer.health(running)
        ]

    def _while_paused(self, pause: _Pause, db: Path) -> DatabaseHealth:
        """While litestream is stopped for a snapshot, or the run after it has not answered yet (`observers.paused`)."""
        self._tracker.note_commit(db, min(self._commit_time(db), pause.at))  # no poll marks commits meanwhile
        lag = self._tracker.behind().get(db)
        elapsed = time.monotonic() - pause.at
        return paused(pause.before[db], lag, behind_threshold(self._contexts[db]), elapsed, pause.why)

    def recent_restarts(self) -> list[Restart]:
        """The last restarts of litestream (at most `RECENT_RESTARTS`), oldest first, each with when and why."""
        return list(self._restart_log)

    def replica_checks(self) -> dict[Path, CheckedReplica]:
        """Each database's last check of the replica itself (listed in the store), with when it ran.

        A database is missing until its first check has listed the store.
        """
        return dict(self._checks)

    def _restart_in(self) -> float | None:
        """Seconds until litestream is started again, while the supervisor waits to restart it."""
        restart_at = self._restart_at
        if restart_at is None or self._stopping.is_set():
            return None
        return round(max(restart_at - time.monotonic(), 0.0), 1)

    def wait_for_sync(self, timeout: float = WAIT_FOR_SYNC_TIMEOUT) -> bool:
        """Wait until everything committed before this call is in the replica; False on timeout.

        On litestream 0.5 the control socket is asked to sync and confirm. From the log
        (0.3), where positions are reported only when a database changes, the wait is
        anchored at the last commit (the WAL's modification time), not at this call.
        """
        seconds = Deadline(timeout).seconds
        last_commit = max(self._commit_time(db) for db in self._dbs)
        return self._observer.wait_for_sync(last_commit, seconds) and not self._problems

    def _commit_time(self, db: Path) -> float:
        """``time.monotonic()`` of the newest commit to ``db`` (each commit appends to its WAL), at the latest.

        A file's time comes from the kernel's coarse clock, up to a tick before the write:
        the observer's ``commit_slack`` is added where a commit must not look older than a
        sync that began after it.
        """
        for path in (sqlite_files.wal_path(db), db):
            with contextlib.suppress(FileNotFoundError):
                age = time.time() - path.stat().st_mtime - self._observer.commit_slack
                return time.monotonic() - max(age, 0.0)
        return 0.0


def _wait_until_replicating(
    proc: ManagedProcess, tracker: SyncTracker, seconds: float = REPLICATING_WAIT_SECONDS
) -> None:
    """Wait (at most ``seconds``) until litestream says it replicates, so it handles a stop signal."""
    end = time.monotonic() + seconds
    while tracker.replicating_since < proc.started_at and proc.returncode is None and time.monotonic() < end:
        time.sleep(LOCK_POLL)


def _held(ctx: RunContext) -> str:
    """What the final sync proved the replica holds, in words (`Line.last_sync` listed it, where the line can)."""
    position = ctx.line.local_position(ctx.db)
    if not ctx.line.has_txids:
        return f"litestream's shutdown sync reported no error (generation {position}, listed in the replica)"
    if position is None:
        return "the database has no transaction yet"
    return f"the replica holds every transaction up to {position} (checked by listing it)"


def _proof(check: ReplicaCheck) -> str:
    """What a check that found nothing wrong proved, in words."""
    return check.continuity.summary() if check.continuity else f"{check.generations} generation(s)"


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _shared_context(contexts: list[RunContext]) -> RunContext:
    first = contexts[0]
    for other in contexts[1:]:
        if other.tuning != first.tuning:  # one litestream process, one config: snapshots, metrics, heartbeat...
            raise InvalidArgument(
                "databases replicated together share one litestream config: give them the same snapshot, "
                "retention, sync, busy-timeout, metrics and heartbeat settings"
            )
        if other.litestream != first.litestream or other.secrets != first.secrets:  # the heartbeat URL matched above
            raise InvalidArgument("databases replicated together must use the same litestream and the same credentials")
    paths = [ctx.db for ctx in contexts]
    if len(set(paths)) != len(paths) or len({p.name for p in paths}) != len(paths):
        raise InvalidArgument("databases replicated together need distinct file names (litestream logs them by name)")
    return first


def run_app(
    configs: Sequence[Replicable],
    command: Sequence[str],
    *,
    ready_timeout: float | None = None,
    stop_timeout: float = STOP_TIMEOUT,
    max_backoff: float | None = None,
    stall_timeout: float = STALL_TIMEOUT,
    beside: Callable[[Replicator], contextlib.AbstractContextManager[object]] | None = None,
) -> int:
    """Run ``command`` with replication around it; return the command's exit code.

    Replication is in sync before the command starts; SIGTERM, SIGINT and SIGHUP
    sent to pylts are passed on to the command; after it exits, litestream makes
    its final sync. If that sync fails, ``FinalSyncFailed`` is raised with the
    command's exit code in ``app_returncode``. The keyword options are `Replicator`'s, but ``beside``:
    a context (a status page, alerts) entered with the running `Replicator` once it is in sync, and
    left after the command exits, before the final sync.
    """
    if isinstance(command, str) or not command:
        raise InvalidArgument("give the command as a non-empty list of arguments, e.g. ['gunicorn', 'app:app']")
    code: int | None = None
    try:
        with (
            Replicator(
                configs,
                ready_timeout=ready_timeout,
                stop_timeout=stop_timeout,
                max_backoff=max_backoff,
                stall_timeout=stall_timeout,
            ) as replicator,
            beside(replicator) if beside is not None else contextlib.nullcontext(),
        ):
            app = ManagedProcess(command, env=os.environ, capture=False, stop_grace=APP_STOP_GRACE, role="app")
            with app, _forwarding_signals(app):
                logger.info("started %s (pid %s) with replication around it", command[0], app.pid)
                code = app.wait(None)
            logger.info("%s (pid %s) %s; the final sync follows", command[0], app.pid, exit_words(code))
    except FinalSyncFailed as exc:
        exc.app_returncode = code
        raise
    assert code is not None
    return code


@contextlib.contextmanager
def _forwarding_signals(app: ManagedProcess) -> Iterator[None]:
    """Pass SIGTERM, SIGINT and SIGHUP on to the app (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    forwarded = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda signum, _frame: app.signal(signum)) for sig in forwarded}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _heal_deadline(ctx: RunContext) -> Deadline:
    """A fresh snapshot's own bound when the caller has none: like a first sync of the database and its WAL."""
    return Deadline(automatic_ready_timeout(_file_size(ctx.db) + _file_size(sqlite_files.wal_path(ctx.db))))
