"""What a boot may do and what it did: the `BootPolicy` it follows and the `BootReport` it returns.

They live apart from `pylts.boot`, which decides and restores, so that whoever only passes a policy along or
reads a report (the supervisor, the faces) does not import the boot itself. `pylts.boot` exports them too.

>>> BootReport(outcome=RestoreOutcome.FRESH).value
'fresh'
"""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from .errors import InvalidArgument
from .layout import Layout
from .reports import RestoreReport


class BootPolicy(str, enum.Enum):
    """What `ensure_restored` does when the local database and the replica disagree."""

    REFUSE = "refuse"  #: raise the typed error and change nothing (the default)
    QUARANTINE = "quarantine"  #: move the local files aside under a dated name, then restore (or start fresh)
    ADOPT = "adopt"  #: keep the local copy: it becomes the replica's newest state


def as_boot_policy(value: BootPolicy | str) -> BootPolicy:
    """``value`` (a `BootPolicy` or its name) as a `BootPolicy`; `InvalidArgument` naming the choices otherwise.

    >>> as_boot_policy("adopt")
    <BootPolicy.ADOPT: 'adopt'>
    >>> as_boot_policy("keep")
    Traceback (most recent call last):
    ...
    pylts.errors.InvalidArgument: boot policy 'keep' is not one of: refuse, quarantine, adopt
    """
    try:
        return BootPolicy(value)
    except ValueError:
        choices = ", ".join(policy.value for policy in BootPolicy)
        raise InvalidArgument(f"boot policy {value!r} is not one of: {choices}") from None


class RestoreOutcome(str, enum.Enum):
    """What `ensure_restored` did."""

    RESTORED = "restored"  #: the database was missing and came back from the replica
    FRESH = "fresh"  #: the database was missing and the replica holds no backup: start anew
    EXISTING = "existing"  #: a database was already there, current with the replica, and was left alone
    QUARANTINED = "quarantined"  #: the local files were moved aside (policy quarantine), then restored or started fresh
    ADOPTED = "adopted"  #: the local copy disagreed with the replica and was kept (policy adopt)
    #: another live process on this machine replicates the database: it is in use, so it was left alone, unchecked
    REPLICATING = "replicating"


class BootReport(BaseModel):
    """What `ensure_restored` decided, and the positions it saw on each side, for the app to log.

    ``value`` is the outcome's name, as pylts 0.1's ``ensure_restored().value`` gave it.
    """

    model_config = ConfigDict(frozen=True)

    outcome: RestoreOutcome
    local_position: str | None = None
    replica_position: str | None = None
    moved_to: Path | None = None
    #: What the restore did (position, duration, integrity check), when the database was restored.
    restore_report: RestoreReport | None = None
    #: The layout of the replica files the decision was made on: the running line's own (``"0.5"`` on
    #: litestream 0.5), or an older one a restore read (``"0.3"``: replication then goes on in 0.5's
    #: layout, beside the old files); ``None`` when the replica held nothing.
    replica_layout: Layout | None = None
    #: The second destination's snapshot the database was restored from (``s3://BUCKET/PATH/<time>``), when the
    #: primary replica was missing or empty at boot and a snapshot was there; ``None`` otherwise.
    from_secondary: str | None = None

    @property
    def value(self) -> str:
        """The outcome's name (``"restored"``, ``"fresh"``, ``"existing"``, ...), as `RestoreOutcome` lists them."""
        return self.outcome.value
