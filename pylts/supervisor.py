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
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from loguru import logger
from pydantic import BaseModel, ConfigDict

from . import sqlite_files
from .commands import config_yaml
from .context import RunContext, write_private
from .errors import FinalSyncFailed, InvalidArgument, LitestreamTimeout, ReplicationError
from .events import DatabaseSync, SyncTracker
from .output import error_from_text
from .boot import RestoreOutcome
from .runner import Deadline, ManagedProcess

if TYPE_CHECKING:
    from .settings import ConfigS3


class ReplicationStatus(BaseModel):
    """What a running ``Replicator`` knows: its litestream process and each database's sync."""

    model_config = ConfigDict(frozen=True)

    running: bool
    pid: int | None
    restarts: int
    last_error: str | None
    databases: list[DatabaseSync]

    @property
    def in_sync(self) -> bool:
        """Whether every database's replica held all of it at the last report."""
        return all(db.in_sync for db in self.databases)


class Replicator:
    """A supervised ``litestream replicate`` for one or more databases; use it as a context manager.

    ``ready_timeout`` bounds the wait for the first sync; ``stop_timeout`` bounds the
    final sync at exit (litestream's ``shutdown-sync-timeout`` on 0.5). Databases
    replicated together share one litestream process, so they must share credentials.
    """

    def __init__(
        self,
        configs: Sequence[ConfigS3],
        *,
        ready_timeout: float = 30.0,
        stop_timeout: float = 30.0,
        max_backoff: float = 30.0,
    ) -> None:
        if not configs:
            raise InvalidArgument("Replicator needs at least one ConfigS3")
        self._ready_timeout = Deadline(ready_timeout).seconds  # Deadline checks the values
        self._stop_timeout = Deadline(stop_timeout).seconds
        self._max_backoff = max_backoff
        contexts = [cfg._context() for cfg in configs]
        self._ctx = _shared_context(contexts)
        self._dbs = {ctx.db: ctx.replica for ctx in contexts}
        self._tracker = SyncTracker(list(self._dbs))
        self._configs = list(configs)
        self._folder: Path | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._proc: ManagedProcess | None = None
        self._exit_code: int | None = None
        self._restarts = 0
        self._last_error: str | None = None
        self._stop_grace: float | None = None
        self._argv: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Replicator:
        """Start litestream; return once every database is in sync, or raise the cause and stop.

        A missing database is first restored from its replica (litestream would
        otherwise start a new history beside the backup); with no backup at all an
        empty database is created, so replication is live before the app starts.
        """
        deadline = Deadline(self._ready_timeout)
        self._ctx.probe(deadline)
        for cfg in self._configs:
            if cfg.ensure_restored(timeout_seconds=max(deadline.remaining(), 1.0)).outcome is RestoreOutcome.FRESH:
                sqlite_files.create_empty(cfg.dbpath)
        self._folder = Path(tempfile.mkdtemp(prefix="pylts-replicate-"))
        config = self._folder / "litestream.yml"
        write_private(config, config_yaml(self._ctx.litestream, self._dbs, log_level="debug", shutdown_sync_timeout=self._stop_timeout))
        self._argv = [str(self._ctx.litestream.path), "replicate", "-config", str(config)]
        started = time.monotonic()
        self._thread = threading.Thread(target=self._supervise, name="pylts-replicator", daemon=True)
        self._thread.start()
        if self._tracker.wait(since=started, timeout=max(deadline.remaining() - 1.0, 0.0)):  # a second kept for stopping
            logger.info("replicating {} database(s) to their replicas", len(self._dbs))
            return self
        error = self._startup_error(deadline)
        self._shutdown(grace=1.0)  # nothing was synced yet: no final sync to wait for
        raise error

    def _startup_error(self, deadline: Deadline) -> Exception:
        text = self._tracker.named_error or self._tracker.last_error or self._last_error
        if text:
            return error_from_text(text, ReplicationError, "replication did not start", argv=self._argv)
        return LitestreamTimeout(f"replication was not in sync within {deadline.seconds:g} s", argv=self._argv)

    def _supervise(self) -> None:
        """Run litestream until asked to stop, restarting it with backoff when it dies."""
        backoff = 0.5
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                with self._ctx.process(self._argv, on_line=self._tracker.feed_output, stop_grace=self._stop_timeout + 5) as proc:
                    self._proc = proc
                    while proc.returncode is None and not self._stopping.is_set():
                        self._stopping.wait(0.2)
                    if self._stopping.is_set():
                        self._exit_code = proc.stop(self._stop_grace)
                        return
                    code = proc.returncode
            except Exception as exc:  # noqa: BLE001 - reported through status(), retried with backoff
                code, self._tracker.last_error = None, str(exc)
            self._restarts += 1
            self._last_error = f"litestream exited with {code}: {self._tracker.last_error or 'no error printed'}"
            logger.warning("{}; restarting in {:g} s", self._last_error, backoff)
            backoff = 0.5 if time.monotonic() - began > 60 else min(backoff * 2, self._max_backoff)
            self._stopping.wait(backoff)

    def stop(self) -> None:
        """Stop litestream after its final sync; raise ``FinalSyncFailed`` if the sync failed."""
        failure = self._shutdown()
        if failure:
            raise FinalSyncFailed(f"the final sync failed: {failure}", argv=self._argv, returncode=self._exit_code, output=failure)

    def _shutdown(self, grace: float | None = None) -> str | None:
        """Stop (allowing ``grace`` seconds, default the stop timeout) and clean up; return why the final sync failed."""
        self._stop_grace = grace
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self._stop_timeout + 30)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        if self._tracker.shutdown_error:
            return self._tracker.shutdown_error
        if self._exit_code not in (0, None):
            return f"litestream exited with {self._exit_code}: {self._tracker.last_error or 'no error printed'}"
        behind = [str(db.path) for db in self._tracker.snapshot() if not db.in_sync]
        return f"the replica of {', '.join(behind)} was behind when litestream stopped" if behind else None

    def __enter__(self) -> Replicator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.stop()
            return
        failure = self._shutdown()  # do not hide the exception already on its way
        if failure:
            logger.error("the final sync failed: {}", failure)

    # -- what it knows ----------------------------------------------------------------------

    def status(self) -> ReplicationStatus:
        """pid, restarts, last error, and each database's positions and last sync time."""
        proc = self._proc
        running = proc is not None and proc.returncode is None and not self._stopping.is_set()
        return ReplicationStatus(
            running=running,
            pid=proc.pid if running and proc is not None else None,
            restarts=self._restarts,
            last_error=self._last_error or self._tracker.last_error,
            databases=self._tracker.snapshot(),
        )

    def wait_for_sync(self, timeout: float = 30.0) -> bool:
        """Wait until everything committed before this call is in the replica; False on timeout.

        litestream reports positions only when a database changes, so the wait is
        anchored at the last commit (the WAL's modification time), not at this call.
        """
        seconds = Deadline(timeout).seconds
        return self._tracker.wait(since=self._last_commit(), timeout=seconds, stop_on_error=False)

    def _last_commit(self) -> float:
        """``time.monotonic()`` of the newest commit to any database (each commit appends to its WAL)."""
        newest = 0.0
        for db in self._dbs:
            for path in (db.with_name(db.name + "-wal"), db):
                with contextlib.suppress(FileNotFoundError):
                    newest = max(newest, path.stat().st_mtime)
                    break
        return time.monotonic() - max(time.time() - newest, 0.0)


def _shared_context(contexts: list[RunContext]) -> RunContext:
    first = contexts[0]
    for other in contexts[1:]:
        if other.litestream != first.litestream or other.secrets != first.secrets:
            raise InvalidArgument("databases replicated together must use the same litestream and the same credentials")
    paths = [ctx.db for ctx in contexts]
    if len(set(paths)) != len(paths) or len({p.name for p in paths}) != len(paths):
        raise InvalidArgument("databases replicated together need distinct file names (litestream logs them by name)")
    return first


def run_app(configs: Sequence[ConfigS3], command: Sequence[str], **replicator_options: float) -> int:
    """Run ``command`` with replication around it; return the command's exit code.

    Replication is in sync before the command starts; SIGTERM, SIGINT and SIGHUP
    sent to pylts are passed on to the command; after it exits, litestream makes
    its final sync. If that sync fails, ``FinalSyncFailed`` is raised with the
    command's exit code in ``app_returncode``.
    """
    if isinstance(command, str) or not command:
        raise InvalidArgument("give the command as a non-empty list of arguments, e.g. ['gunicorn', 'app:app']")
    code: int | None = None
    try:
        with Replicator(configs, **replicator_options):
            app = ManagedProcess(command, env=os.environ, capture=False, stop_grace=30.0, role="app")
            with app, _forwarding_signals(app):
                code = app.wait(None)
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
