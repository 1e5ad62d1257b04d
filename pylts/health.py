"""What `Replicator.health()` says of each database: caught up, behind, failing, restarting, or unknown.

`Behind` means a lag worth acting on: the oldest commit the replica is not known to hold is
older than three sync intervals (at least 5 s). A commit on its way (confirmed a second or two
after it is made) leaves the database `CaughtUp`, with that lag in ``behind_seconds``.

Each state is its own model, told apart by ``state``, so a caller can match on the class:

>>> from pathlib import Path
>>> health = Behind(path=Path("/data/app.db"), local_txid="0000000000000009", replica_txid="0000000000000007",
...                 seconds_since_sync=12.0, error="the store does not answer")
>>> match health:
...     case CaughtUp():
...         print("fine")
...     case Behind(seconds_since_sync=seconds) if seconds and seconds > 10:
...         print(f"{health.path.name} behind for {seconds:.0f} s: {health.error}")
app.db behind for 12 s: the store does not answer
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class _Health(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: Path
    #: Seconds since litestream last completed a sync of this database (None: not known yet).
    seconds_since_sync: float | None = None
    #: Seconds since the oldest commit the replica is not known to hold was made (None: none is pending).
    behind_seconds: float | None = None
    #: Seconds since the newest snapshot the second destination's listing showed at its last check (None: no
    #: second destination, or no snapshot listed yet); see `pylts.secondary`.
    secondary_age: float | None = None
    #: Why the last snapshot to the second destination failed, until one is taken again.
    secondary_error: str | None = None


class CaughtUp(_Health):
    """The replica holds the database, or all but commits made less than the `Behind` threshold ago."""

    state: Literal["caught_up"] = "caught_up"
    #: The database's position (litestream's local one on 0.5).
    txid: str | None = None
    #: The newest position the replica is known to hold.
    replica_txid: str | None = None


class Behind(_Health):
    """The database holds commits the replica is not known to hold; ``error`` says why, when known."""

    state: Literal["behind"] = "behind"
    local_txid: str | None = None
    #: The newest position the replica is known to hold (None: none confirmed yet).
    replica_txid: str | None = None
    error: str | None = None


class Failing(_Health):
    """litestream reports an error for this database (its own words in ``error``), and no sync has succeeded since."""

    state: Literal["failing"] = "failing"
    error: str
    local_txid: str | None = None
    replica_txid: str | None = None


class Restarting(_Health):
    """litestream stopped (``error`` says why) and is started again in ``restart_in`` seconds."""

    state: Literal["restarting"] = "restarting"
    error: str
    restart_in: float


class Unknown(_Health):
    """Nothing can be said now (litestream not running, or not answering); ``reason`` says why."""

    state: Literal["unknown"] = "unknown"
    reason: str


#: The health of one database: one of the five states.
DatabaseHealth = Annotated[
    Union[CaughtUp, Behind, Failing, Restarting, Unknown],  # noqa: UP007
    Field(discriminator="state"),
]


def health_summary(health: DatabaseHealth) -> str:
    """The state in words, with the cause or lag that matters, for one log line.

    >>> health_summary(CaughtUp(path=Path("app.db"), txid="0000000000000009", replica_txid="0000000000000009"))
    'caught up (replica at 0000000000000009)'
    >>> health_summary(Failing(path=Path("app.db"), error="connection refused", seconds_since_sync=41.6))
    'failing: connection refused (42 s since the last sync)'
    >>> health_summary(Behind(path=Path("app.db"), behind_seconds=7.2))
    'behind: commits of the last 7 s are not in the replica'
    """
    match health:
        case CaughtUp(replica_txid=txid):
            return f"caught up (replica at {txid})" if txid else "caught up"
        case Behind(behind_seconds=lag, error=error):
            since = f"commits of the last {lag:.0f} s" if lag is not None else "commits"
            return f"behind: {since} are not in the replica" + (f" ({error})" if error else "")
        case Failing(error=error, seconds_since_sync=seconds):
            return f"failing: {error}" + (f" ({seconds:.0f} s since the last sync)" if seconds is not None else "")
        case Restarting(error=error, restart_in=restart_in):
            return f"restarting in {restart_in:g} s: {error}"
        case Unknown(reason=reason):
            return f"unknown: {reason}"
    raise AssertionError(health)  # pragma: no cover - every state is matched above
