"""What a running `Replicator` knows: the reports it gives, and all of them gathered in one for the metrics
and the status page.

The supervisor makes the reports (`ReplicationStatus`, `Restart`, `CheckedReplica`); they live here, below it,
so that what reads them (the metrics, the status page and the apps that mount it) needs none of the
supervisor's code.
`overview` asks the replicator once (``health()``, ``status()``, its last replica checks and restarts)
and stamps the answer with the time it was asked: nothing here is guessed, every figure is one the
replicator reported, and what it does not know stays ``None``.

>>> from pathlib import Path
>>> from pylts.health import CaughtUp
>>> db = DatabaseOverview(health=CaughtUp(path=Path("/srv/app.db"), seconds_since_sync=0.4), checked_at=NOW)
>>> db.name, db.state, db.summary
('app.db', 'caught_up', 'caught up')
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from .continuity import ReplicaCheck
from .events import DatabaseSync
from .health import DatabaseHealth, health_summary

__all__ = [
    "CheckedReplica",
    "DatabaseOverview",
    "Monitored",
    "Overview",
    "ReplicationStatus",
    "Restart",
    "overview",
]

#: A fixed moment for the examples.
NOW = datetime(2026, 12, 6, 2, 0, tzinfo=timezone.utc)


class Restart(BaseModel):
    """One restart of litestream by the supervisor: when, and why (the error that ended the run before)."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    reason: str


class CheckedReplica(BaseModel):
    """The last check of one database's replica itself (`Line.check_replica`) and when it ran."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    check: ReplicaCheck


class ReplicationStatus(BaseModel):
    """What a running ``Replicator`` knows: its litestream process and each database's sync."""

    model_config = ConfigDict(frozen=True)

    running: bool
    pid: int | None
    restarts: int
    last_error: str | None
    databases: list[DatabaseSync]
    #: Seconds until litestream, stopped, is started again (None: it is not waiting to restart).
    restart_in: float | None = None

    @property
    def in_sync(self) -> bool:
        """Whether every database's replica held all of it at the last report, with no stall since."""
        return all(db.in_sync for db in self.databases)


class Monitored(Protocol):
    """What `overview` reads of a replicator (`pylts.Replicator` is one)."""

    def health(self) -> list[DatabaseHealth]: ...
    def status(self) -> ReplicationStatus: ...
    def replica_checks(self) -> dict[Path, CheckedReplica]: ...
    def recent_restarts(self) -> list[Restart]: ...


class DatabaseOverview(BaseModel):
    """One database: its health as `Replicator.health` said it at ``checked_at``, and its last replica check."""

    model_config = ConfigDict(frozen=True)

    health: DatabaseHealth
    #: When ``health`` was asked.
    checked_at: datetime
    #: The last check of the replica itself (None: none has listed the store yet).
    replica_check: CheckedReplica | None = None

    @property
    def name(self) -> str:
        """The database's file name."""
        return self.health.path.name

    @property
    def state(self) -> str:
        """``caught_up``, ``behind``, ``failing``, ``restarting`` or ``unknown``."""
        return self.health.state

    @property
    def summary(self) -> str:
        """The state in words (`pylts.health.health_summary`)."""
        return health_summary(self.health)


class Overview(BaseModel):
    """Every database of one replicator, its litestream process and its recent restarts, at one moment."""

    model_config = ConfigDict(frozen=True)

    checked_at: datetime
    running: bool
    pid: int | None
    restarts: int
    last_error: str | None
    recent_restarts: list[Restart]
    databases: list[DatabaseOverview]


def overview(replicator: Monitored) -> Overview:
    """Ask ``replicator`` what it knows now (health answers within a few seconds, without making litestream sync)."""
    checked_at = datetime.now(timezone.utc)
    health = replicator.health()
    status = replicator.status()
    checks = replicator.replica_checks()
    return Overview(
        checked_at=checked_at,
        running=status.running,
        pid=status.pid,
        restarts=status.restarts,
        last_error=status.last_error,
        recent_restarts=replicator.recent_restarts(),
        databases=[
            DatabaseOverview(health=state, checked_at=checked_at, replica_check=checks.get(state.path))
            for state in health
        ],
    )
