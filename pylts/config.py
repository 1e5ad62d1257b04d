"""``ConfigS3``: the settings of one database (`pylts.settings`), and what can be done with it.

The seed API's methods (``restore``, ``timed_replicate``, ``delete``...) and the newer ones each
build the database's run plan (a `RunContext`, ``plan()``) and hand it to the module that does
the work, so nothing below this module ever sees the settings.

>>> from pylts import ConfigS3
>>> cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", folder="/srv/app", db="app.db")
>>> cfg.plan().db
PosixPath('/srv/app/app.db')
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from . import backup, binary, doctor, migrate, points, restore, secondary, status, verify
from .boot import BootPolicy, BootReport, as_boot_policy, ensure_restored, restore_from_secondary
from .commands import child_env, config_yaml
from .context import RunContext, write_private
from .deadline import Deadline
from .doctor import DoctorReport
from .errors import InvalidArgument, LitestreamNotFound, UnsupportedLitestreamVersion
from .follow import Follower
from .lines import Line, line_for
from .migrate import MigrateReport
from .points import RestorePlan, RestorePoints
from .replica import SSE_CUSTOMER_KEY_VARIABLE
from .reports import ReplicaContents, RestoreReport
from .secondary import SecondarySnapshot, SnapshotSchedule
from .settings import S3Settings
from .settings_base import MODEL_ENV_FILE, EnvFiles, ModelEnvFile
from .sqlite_files import IntegrityCheck, database_files, remove
from .supervisor import ReplicatedDatabase, Replicator
from .timing import (
    BACKUP_TIMEOUT,
    FOLLOW_CHECK_INTERVAL,
    FOLLOW_INTERVAL,
    FOLLOW_MAX_BACKOFF,
    FOLLOW_READY_TIMEOUT,
    FOLLOW_STALL_TIMEOUT,
    LISTING_TIMEOUT,
    ONE_SHOT_STOP_GRACE,
    REPLICA_CHECK_INTERVAL,
    RESTORE_TIMEOUT,
    SECONDARY_SNAPSHOT_TIMEOUT,
    STALL_TIMEOUT,
    STOP_TIMEOUT,
    VERIFY_TIMEOUT,
    VFS_READY_TIMEOUT,
)
from .verify import VerifyResult
from .vfs import VfsReader

_P = ParamSpec("_P")
#: Where a restore reads: the replica litestream keeps current, or the newest snapshot of the second destination.
Source = Literal["primary", "secondary"]
_R = TypeVar("_R")


def _timeout_renamed(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Accept ``timeout_seconds=``, the 0.0.9 (and 0.1) name of ``timeout=``, with a `DeprecationWarning`."""

    @functools.wraps(method)
    def accepting_old_name(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if "timeout_seconds" in kwargs:
            if "timeout" in kwargs:
                raise InvalidArgument("give timeout (or its old name timeout_seconds), not both")
            warnings.warn(
                f"{method.__name__}(timeout_seconds=...) is now {method.__name__}(timeout=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            kwargs["timeout"] = kwargs.pop("timeout_seconds")
        return method(*args, **kwargs)

    return accepting_old_name


class ConfigS3(S3Settings):
    """Where a SQLite database lives locally and where litestream keeps its backup, and what can be done with it.

    Its settings and their checks come from `S3Settings`; every setting, its environment variable, default and
    meaning: docs/configuration.md. ``access_key_id``, ``secret_access_key`` and ``replica_url`` say what
    ``key``, ``token`` (the secret access key, not an AWS session token) and ``s3`` are; both names work, as
    keywords and as attributes. A misspelled keyword raises: ``ConfigS3(...)`` raises pydantic's
    ``ValidationError``, `ConfigS3.load` raises `InvalidSettings` (a `PyltsError`); both are ``ValueError``s.

    Examples:
        >>> cfg = ConfigS3(key="AKIAEXAMPLE", token="s3cr3t", s3="s3://backups/app.db")
        >>> cfg, cfg.token, cfg.dbpath.parent.name
        (ConfigS3(s3='s3://backups/app.db', db='db.sqlite'), SecretStr('**********'), 'data')
        >>> "s3cr3t" in repr(cfg) + str(cfg)
        False
        >>> from pydantic import ValidationError
        >>> try:
        ...     ConfigS3(key="k", token="t", s3="s3://backups/app.db", db="../app.db")
        ... except ValidationError as exc:
        ...     print(exc.errors()[0]["msg"])
        Value error, db must be a plain file name, without '/', '\\' or '..': got '../app.db';
        put the directory in folder (DB_FOLDER) instead
    """

    if TYPE_CHECKING:  # as `S3Settings` says, for this class too: pydantic's plugin would give the fields' signature

        def __init__(self, _env_file: EnvFiles | ModelEnvFile = MODEL_ENV_FILE, **values: Any) -> None: ...

    def plan(self) -> RunContext:
        """The run plan of this database: its litestream line, paths, replica, tuning and the child's environment.

        Secrets are only in the plan's environment, which its repr leaves out; a tuning the
        line cannot honour raises here, before anything runs.
        """
        line, replica = self._line(), self.replica
        self.check_cost_profile(line)
        line.check_tuning(self.tuning)
        credentials = None
        if self.key is not None and self.token is not None and not self.use_aws_credential_chain:
            credentials = (self.key.get_secret_value(), self.token.get_secret_value())
        ping = (self.heartbeat_url.get_secret_value(),) if self.heartbeat_url else ()  # litestream logs failed pings
        primary = RunContext(
            line=line,
            db=self.dbpath,
            replica=replica,
            env=self.encryption_env(child_env(os.environ, line, credentials=credentials), line, replica),
            secrets=(*(credentials or ()), *ping, *self.encryption_secrets()),
            tuning=self.tuning,
        )
        return self._with_secondary(primary, credentials)

    def _with_secondary(self, primary: RunContext, credentials: tuple[str, str] | None) -> RunContext:
        """``primary`` with the second destination's plan, if one is set (its credentials, else ``credentials``).

        The snapshots are encrypted as the primary is (its SSE-C key or KMS key id): a copy elsewhere
        must not be the one place the data lies in clear.
        """
        replica = self.secondary_replica(primary.replica)
        if replica is None:
            return primary
        replica = replica.with_encryption(
            customer_key=primary.replica.sse_customer_key, kms_key_id=primary.replica.sse_kms_key_id
        )
        if self.secondary_access_key_id is not None and self.secondary_secret_access_key is not None:
            credentials = (
                self.secondary_access_key_id.get_secret_value(),
                self.secondary_secret_access_key.get_secret_value(),
            )
        env = child_env(os.environ, primary.line, credentials=credentials)
        env.pop(SSE_CUSTOMER_KEY_VARIABLE, None)
        if SSE_CUSTOMER_KEY_VARIABLE in primary.env:  # the key, in the variable the snapshot's config names
            env[SSE_CUSTOMER_KEY_VARIABLE] = primary.env[SSE_CUSTOMER_KEY_VARIABLE]
        secondary_plan = RunContext(
            line=primary.line,
            db=primary.db,
            replica=replica,
            env=env,
            secrets=(*primary.secrets, *(credentials or ())),
        )
        return dataclasses.replace(primary, secondary=secondary_plan)

    def secondary_schedule(self) -> SnapshotSchedule | None:
        """How often snapshots go to the second destination and how many it keeps; None when there is none.

        >>> ConfigS3(key="k", token="t", s3="s3://bkt/app.db", secondary_url="s3://copies/app.db").secondary_schedule()
        SnapshotSchedule(interval=3600.0, keep=24)
        """
        if self.secondary_url is None:
            return None
        return SnapshotSchedule(self.secondary_interval.total_seconds(), self.secondary_keep)

    def replication(self) -> ReplicatedDatabase:
        """The plan and start options a `Replicator` needs for this database."""
        every, plan, secondary_schedule = self.replica_check_seconds(), self.plan(), self.secondary_schedule()
        policy, timeout, backoff = self.boot_policy, self.ready_timeout, self.max_backoff
        return ReplicatedDatabase(plan, policy, timeout, backoff, every, secondary_schedule, boot=ensure_restored)

    def _line(self) -> Line:
        return line_for(binary.locate(self.litestream_bin))

    @property
    def replicate_args(self) -> list[str]:
        """argv of ``litestream replicate`` for this database; no secret is ever in it.

        On litestream 0.3 the argv names the config file pylts writes beside the database
        while it runs litestream (``get_result_on_timeout`` does; ``litestream_config()``
        gives the text for running it yourself).

        >>> from pylts import ConfigS3
        >>> cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", folder="/srv/app", db="app.db")
        >>> args = cfg.replicate_args
        >>> args[1:] in (
        ...     ["replicate", "/srv/app/app.db", "s3://bkt/app.db"],
        ...     ["replicate", "-config", "/srv/app/.app.db-pylts.yml", "-no-expand-env"],
        ... )
        True
        """
        return self._line().replicate_argv(self.dbpath, self.replica)

    @property
    def restore_args(self) -> list[str]:
        """argv of ``litestream restore`` straight into ``dbpath`` (``restore()`` stages it first).

        >>> from pylts import ConfigS3
        >>> cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", folder="/srv/app", db="app.db")
        >>> "/srv/app/app.db" in cfg.restore_args
        True
        """
        return self._line().restore_argv(self.dbpath, self.replica, self.dbpath)

    @_timeout_renamed
    def restore(
        self,
        *,
        overwrite: bool = False,
        timestamp: datetime | str | None = None,
        txid: int | str | None = None,
        integrity_check: IntegrityCheck = "quick",
        timeout: float = RESTORE_TIMEOUT,
        source: Source = "primary",
    ) -> Path:
        """Restore the latest backup (or the one as of ``timestamp`` or ``txid``) to ``dbpath``; returns ``dbpath``.

        As `restore_report`, which returns what the restore did instead of the path;
        ``source="secondary"`` restores the newest snapshot of the second destination.

        Example:
            ```python
            cfg.restore(overwrite=True)  # PosixPath('/srv/app/data/app.db'), replaced only after its checks
            ```
        """
        self.restore_report(
            overwrite=overwrite,
            timestamp=timestamp,
            txid=txid,
            integrity_check=integrity_check,
            timeout=timeout,
            source=source,
        )
        return self.dbpath

    @_timeout_renamed
    def restore_report(
        self,
        *,
        overwrite: bool = False,
        timestamp: datetime | str | None = None,
        txid: int | str | None = None,
        integrity_check: IntegrityCheck = "quick",
        timeout: float = RESTORE_TIMEOUT,
        source: Source = "primary",
    ) -> RestoreReport:
        """Restore like `restore`, and return what was restored: position, duration, integrity check.

        The backup is restored into a private folder beside the database, checked
        (``integrity_check``: ``"quick"``, ``"full"`` or ``"none"``) and only then
        moved into place, so a failure at any moment leaves ``dbpath`` as it was.
        An existing database is replaced only with ``overwrite=True``.
        ``timestamp`` is an aware datetime or an RFC 3339 string; ``txid`` an int or
        hex string (litestream 0.5 only). ``timeout`` bounds the whole call (docs/time.md).
        ``source="secondary"`` restores the newest snapshot the second destination's listing shows
        (``PYLTS_SECONDARY_URL``; a snapshot is one point, so not with ``timestamp`` or ``txid``).

        Example:
            ```python
            report = cfg.restore_report(overwrite=True)
            print(report.txid, report.duration_ms, report.integrity_check)  # 0000000000000003 41 quick
            ```

        Raises:
            DatabaseExists: ``dbpath`` exists and ``overwrite`` is false.
            NoBackupFound: the replica holds no backup.
            EndpointUnreachable, BucketNotFound, CredentialsRejected: the store cannot be used.
            LitestreamTimeout: ``timeout`` ran out.
            RestoreError: litestream failed for another reason (its message included).
        """
        deadline = Deadline(timeout)  # first: it bounds the whole call, finding litestream included
        if source not in ("primary", "secondary"):
            raise InvalidArgument(f"source must be 'primary' or 'secondary', got {source!r}")
        plan = self.plan()
        if source == "secondary":
            copies, latest = self._secondary_snapshot(plan, deadline, point=timestamp is not None or txid is not None)
            return restore_from_secondary(
                copies, latest, plan.db, overwrite=overwrite, integrity_check=integrity_check, deadline=deadline
            )
        return restore.restore(
            plan,
            overwrite=overwrite,
            integrity_check=integrity_check,
            deadline=deadline,
            timestamp=timestamp,
            txid=txid,
        )

    def secondary_snapshot(self, *, timeout: float = SECONDARY_SNAPSHOT_TIMEOUT) -> SecondarySnapshot:
        """Take a snapshot to the second destination now, as replication does on schedule; the snapshot as listed.

        A consistent copy of the database, uploaded once to a folder of its own under
        ``PYLTS_SECONDARY_URL`` and proven by the second store's listing; then snapshots
        past ``PYLTS_SECONDARY_KEEP`` are deleted. Raises `SecondarySnapshotFailed` (or the
        store's typed error) when it was not taken. See docs/protection.md.

        Example:
            ```python
            cfg.secondary_snapshot().name  # '20261206T021500123Z'
            ```
        """
        deadline = Deadline(timeout)
        plan, schedule = self.plan(), self.secondary_schedule()
        if plan.secondary is None or schedule is None:
            raise InvalidArgument("a snapshot to the second destination needs PYLTS_SECONDARY_URL (s3://BUCKET/PATH)")
        return secondary.take_snapshot(plan, deadline, keep=schedule.keep)

    @staticmethod
    def _secondary_snapshot(
        plan: RunContext, deadline: Deadline, *, point: bool
    ) -> tuple[RunContext, SecondarySnapshot]:
        """The second destination's plan and its newest listed snapshot, for a restore into the database."""
        if plan.secondary is None:
            raise InvalidArgument(
                "restore from the second destination needs PYLTS_SECONDARY_URL (s3://BUCKET/PATH), which is not set"
            )
        if point:
            raise InvalidArgument(
                "a snapshot of the second destination is one point in time: restore it without timestamp or txid"
            )
        return plan.secondary, secondary.latest_snapshot(plan.secondary, deadline)

    @_timeout_renamed
    def ensure_restored(
        self,
        *,
        integrity_check: IntegrityCheck = "quick",
        timeout: float = RESTORE_TIMEOUT,
        policy: BootPolicy | str | None = None,
    ) -> BootReport:
        """The first line of an app: make sure the database is there, and current, before anything opens it.

        Compares the local database with the replica (one listing) and restores it when
        it is missing (``"restored"``), starts fresh when neither side has one (``"fresh"``)
        and leaves a database that is at or ahead of the replica alone (``"existing"``).
        A database that is behind the replica (`StaleDatabase`), from another history
        (`ForeignDatabase`), or replicated before to a replica that is now empty
        (`ReplicaMissing`) is refused, and nothing is changed, unless ``policy`` (default:
        the ``boot_policy`` setting, ``PYLTS_BOOT_POLICY``) says ``quarantine`` or ``adopt``
        (a `BootPolicy` or its name; another name raises `InvalidArgument` before anything is read).
        Returns a `BootReport` with the positions seen (and the `RestoreReport` of a restore).
        Several processes may call it at once: one restores, the others wait and then find
        the database.

        Example:
            ```python
            cfg.ensure_restored().value  # 'restored', 'fresh' or 'existing'
            ```
        """
        chosen = self.boot_policy if policy is None else as_boot_policy(policy)
        deadline = Deadline(timeout)
        return ensure_restored(self.plan(), integrity_check=integrity_check, deadline=deadline, policy=chosen)

    @_timeout_renamed
    def timed_replicate(self, timeout: float = BACKUP_TIMEOUT, *, delete: bool = True) -> bool:
        """Back up the database once; return as soon as the backup is durable.

        Returns True when the backup is done, False only when ``timeout`` ran out
        with no cause known. A known cause (bucket missing, credentials refused,
        endpoint unreachable) raises its error within the deadline.

        As in pylts 0.0.9 the local database is then deleted, unless
        ``delete=False``; it is deleted only after confirming, under SQLite's
        write lock and within the same deadline, that the replica holds every
        committed transaction (else `BackupNotConfirmed` is raised and nothing is
        deleted). pylts 0.0.9's ``timeout_seconds=`` still works.

        Example:
            ```python
            cfg.timed_replicate(60, delete=False)  # True: the replica holds every committed transaction
            ```
        """
        deadline = Deadline(timeout)  # first: it bounds the whole call, finding litestream included
        return backup.timed_backup(self.plan(), deadline, delete=delete)

    @_timeout_renamed
    def verify(self, *, timeout: float = VERIFY_TIMEOUT, sync: bool = False) -> VerifyResult:
        """Prove the backup restores and is current; returns ok, lagging or failed with the lag.

        Writes a sentinel row, waits for the replica to hold it (watching the
        replica, never a fixed sleep), restores into a temporary folder, checks
        integrity and the row, then removes every file it made and the sentinel
        (and its table, if verify created it). Replication must be running
        (``replicating()``, ``pylts replicate``), or pass ``sync=True`` to make a
        one-shot backup of the sentinel here. ``timeout`` running out gives ``"lagging"``.

        Example:
            ```python
            result = cfg.verify(sync=True)
            result.status, result.lag_seconds  # ('ok', 0.41)
            ```
        """
        deadline = Deadline(timeout)
        return verify.verify(self.plan(), deadline, sync=sync)

    @_timeout_renamed
    def replica_contents(self, *, timeout: float = LISTING_TIMEOUT) -> ReplicaContents:
        """What the replica holds: LTX files (litestream 0.5) or generations and snapshots (0.3).

        Example:
            ```python
            contents = cfg.replica_contents()
            contents.empty, contents.latest  # (False, datetime.datetime(2026, 11, 23, 15, 2, 7, tzinfo=...))
            ```
        """
        deadline = Deadline(timeout)
        return status.replica_contents(self.plan(), deadline)

    def points(self, *, timeout: float = LISTING_TIMEOUT) -> RestorePoints:
        """What the replica can restore to: earliest and latest point, snapshots, each level's granularity, size.

        Read from the store's own listing (one LIST request per 1,000 files), not from litestream;
        litestream 0.5 replicas only (`PointsUnavailable` for 0.3's generations). See `pylts.points`.

        Example:
            ```python
            p = cfg.points()
            p.earliest, p.latest, p.latest_txid, p.download_bytes  # (datetime(...), datetime(...), 43, 1782)
            ```
        """
        deadline = Deadline(timeout)
        return points.restore_points(self.plan(), deadline)

    def restore_plan(
        self,
        *,
        timestamp: datetime | str | None = None,
        txid: int | str | None = None,
        timeout: float = LISTING_TIMEOUT,
    ) -> RestorePlan:
        """What `restore` with the same ``timestamp`` or ``txid`` would download, and how long it would take.

        Changes nothing anywhere (``pylts restore --dry-run``). A point outside what the replica
        holds raises `OutsideRestoreWindow`, which names the window.

        Example:
            ```python
            plan = cfg.restore_plan(timestamp="2026-12-06T02:06:20Z")
            plan.restores_txid, len(plan.files), plan.bytes  # (19, 2, 1584)
            ```
        """
        deadline = Deadline(timeout)
        return points.plan_restore(self.plan(), deadline, timestamp=timestamp, txid=txid)

    def doctor(
        self,
        *,
        app_busy_timeout: float | None = None,
        replicating: bool = False,
        timeout: float = LISTING_TIMEOUT,
        disk_usage: Callable[[Path], int] = doctor.free_bytes,
    ) -> DoctorReport:
        """Check this deployment: database, store, software, running system; one `Check` each, with its fix.

        Reads only: the database through a read-only connection; the store gets one probe object,
        deleted again. ``app_busy_timeout`` is the busy timeout (seconds) the app's own connections
        use, which no other process can see; ``replicating`` says this deployment's replicator runs
        now (its lock is then expected); ``disk_usage`` gives the free bytes of a folder.

        Example:
            ```python
            report = cfg.doctor(app_busy_timeout=5)
            report.ok, [c.line() for c in report.checks if c.status != "ok"]  # (True, [])
            ```
        """
        deadline = Deadline(timeout)
        checks = doctor.database_checks(self.dbpath, app_busy_timeout=app_busy_timeout)
        try:
            ctx: RunContext | None = self.plan()
            problem = None
        except (UnsupportedLitestreamVersion, LitestreamNotFound) as exc:
            ctx, problem = None, str(exc)
        checks += doctor.software_checks(ctx, problem=problem)
        restore_bytes = None
        if ctx is not None:
            found, restore_bytes = doctor.store_checks(ctx, deadline)
            checks += found
        l0_check = self.tuning.l0_retention_check_interval
        checks += doctor.system_checks(
            self.dbpath,
            restore_bytes,
            replicating=replicating,
            line=None if ctx is None else ctx.line,
            l0_check_seconds=None if l0_check is None else l0_check.total_seconds(),
            replica_check_seconds=self._replica_check_or_default(),
            disk_usage=disk_usage,
        )
        return DoctorReport(checks=checks)

    def idle_requests(self) -> str:
        """The requests a day replicating this database costs while it is idle, by these settings and the litestream
        line found, in words.

        Counted from litestream's and pylts' intervals (``benchmarks/requests.py`` measures them).

        >>> from pylts import ConfigS3
        >>> ConfigS3(key="k", token="t", s3="s3://bkt/app.db", cost_profile="low").idle_requests().split(" (")[0]
        'about 1,176 requests a day when idle'
        """
        l0_check = self.tuning.l0_retention_check_interval
        l0_seconds = None if l0_check is None else l0_check.total_seconds()
        return doctor.idle_requests(self._line(), l0_seconds, self._replica_check_or_default())[1]

    def _replica_check_or_default(self) -> float | None:
        seconds = self.replica_check_seconds()
        return REPLICA_CHECK_INTERVAL if seconds is None else (seconds or None)

    def migrate(
        self, *, to: str | None = None, dry_run: bool = False, timeout: float = RESTORE_TIMEOUT
    ) -> MigrateReport:
        """Move a litestream 0.3 replica to 0.5's layout: restore it, check it, write it anew, prove it restores.

        Writes to the same URL, or to ``to`` (another ``s3://BUCKET/PATH`` on the same store);
        the old files stay. Running it again says there is nothing to do. The local database
        is not touched. See [Migrating](guides/migrating.md).

        Example:
            ```python
            cfg.migrate().detail  # 'restored 40 rows from litestream 0.3's layout, wrote them ...'
            ```
        """
        try:
            target = None if to is None else self._replica_at(to)
        except ValueError as exc:
            raise InvalidArgument(f"the replica to migrate to: {exc}") from None
        deadline = Deadline(timeout)
        return migrate.migrate(self.plan(), deadline, target=target, dry_run=dry_run)

    def litestream_config(self) -> str:
        """A litestream YAML config for this database, for running litestream yourself.

        Credentials appear only as ``${LITESTREAM_ACCESS_KEY_ID}`` and
        ``${LITESTREAM_SECRET_ACCESS_KEY}`` placeholders, which litestream reads
        from its environment.

        Examples:
            >>> from pylts import ConfigS3
            >>> cfg = ConfigS3(key="k", token="tok3n-value", s3="s3://bkt/app.db", folder="/srv", db="app.db")
            >>> text = cfg.litestream_config()
            >>> "${LITESTREAM_SECRET_ACCESS_KEY}" in text, "tok3n-value" in text
            (True, False)
        """
        return config_yaml(self._line(), {self.dbpath: self.replica}, credential_placeholders=True, tuning=self.tuning)

    def write_litestream_config(self, path: str | os.PathLike[str]) -> Path:
        """Write ``litestream_config()`` to ``path``, readable by its owner only; returns the path."""
        target = Path(path)
        write_private(target, self.litestream_config())
        return target

    def replicating(
        self,
        *,
        ready_timeout: float | None = None,
        stop_timeout: float = STOP_TIMEOUT,
        max_backoff: float | None = None,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> Replicator:
        """Continuous replication of this database while a ``with`` block runs.

        Ready (in sync with the replica) when the block starts; stopped with a final
        sync when it ends. ``ready_timeout`` bounds the start (default: the
        ``ready_timeout`` setting, else 30 s + 0.5 s per MB); ``stop_timeout`` the final
        sync; ``max_backoff`` the longest wait between restarts (default: the ``max_backoff``
        setting); ``stall_timeout`` is how long a
        commit may stay out of the replica before ``status()`` reports it and a stuck
        litestream is restarted.

        Example:
            ```python
            with cfg.replicating() as replication:  # in sync when the block starts
                ...  # the app commits; replication.wait_for_sync(30) waits until the replica holds it
            ```
        """
        return Replicator(
            [self],
            ready_timeout=ready_timeout,
            stop_timeout=stop_timeout,
            max_backoff=max_backoff,
            stall_timeout=stall_timeout,
        )

    def follow(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        interval: float = FOLLOW_INTERVAL,
        stall_timeout: float = FOLLOW_STALL_TIMEOUT,
        check_interval: float = FOLLOW_CHECK_INTERVAL,
        ready_timeout: float = FOLLOW_READY_TIMEOUT,
        max_backoff: float = FOLLOW_MAX_BACKOFF,
    ) -> Follower:
        """A read-only copy of the replica at ``path`` (default ``dbpath``), kept up to date while a block runs.

        Ready when the first copy is in place; litestream 0.5 only. ``interval`` is how often
        litestream polls the replica, ``stall_timeout`` how long the copy may lag without
        advancing before it is rebuilt, ``check_interval`` how often the replica is listed to
        tell. Read it with ``follower.reading()``, one connection per unit of work (see `pylts.follow`).

        Examples:
            >>> import sqlite3, tempfile
            >>> from contextlib import closing
            >>> from pylts.testing import LocalS3
            >>> s3 = LocalS3().start()
            >>> s3.create_bucket("backups")
            >>> cfg = s3.config("backups", "app.db", db="app.db", folder=tempfile.mkdtemp())
            >>> with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
            ...     _ = conn.execute("CREATE TABLE notes (body TEXT)")
            >>> cfg.timed_replicate(30)
            True
            >>> with cfg.follow() as follower, follower.reading() as conn:
            ...     conn.execute("SELECT count(*) FROM notes").fetchone()
            (0,)
            >>> s3.stop()
        """
        return Follower(
            self.plan(),
            self.dbpath if path is None else Path(path),
            interval=interval,
            stall_timeout=stall_timeout,
            check_interval=check_interval,
            ready_timeout=ready_timeout,
            max_backoff=max_backoff,
        )

    def vfs_reader(self, *, ready_timeout: float = VFS_READY_TIMEOUT) -> VfsReader:
        """Read-only queries on the replica with no local copy, through litestream's VFS (``pylts[vfs]``).

        The extension runs in a helper process, so this process's ``sqlite3`` keeps working;
        `VfsUnavailable` says what to install where the platform lacks it (see `pylts.vfs`).
        """
        return VfsReader(self.plan(), ready_timeout=ready_timeout)

    def delete(self) -> None:
        """Remove the database, its ``-wal``/``-shm`` sidecars and litestream's metadata; missing files are fine.

        >>> import tempfile
        >>> from pylts import ConfigS3
        >>> cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", folder=tempfile.mkdtemp())
        >>> _ = cfg.dbpath.write_bytes(b"")
        >>> cfg.delete()
        >>> cfg.dbpath.exists()
        False
        """
        remove(database_files(self.dbpath))

    def get_result_on_timeout(self, cmd: list[str], timeout: float) -> tuple[str, str]:
        """Run ``cmd`` (an argv list, e.g. `replicate_args`) for at most ``timeout`` seconds.

        litestream gets this config's credentials in its environment; when the time
        is up it gets SIGTERM, then SIGKILL a second later, and is reaped. Returns the
        newest 64 KiB of its ``(stdout, stderr)`` (``runner.TAIL_BYTES``), with the secrets masked.
        """
        deadline = Deadline(timeout)
        ctx = self.plan()
        with ctx.line.temporary_config(ctx), ctx.process(cmd, stop_grace=ONE_SHOT_STOP_GRACE) as proc:
            if proc.wait(deadline.remaining()) is None:
                proc.stop()
        return proc.redact(proc.output("stdout")), proc.redact(proc.output("stderr"))
