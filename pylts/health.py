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
