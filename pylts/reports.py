"""Typed models of what litestream reports, and `read_reported`, through which every parser reads it.

Every parser (here, and each line's own in `pylts.lines`) raises `UnreadableOutput` (a `PyltsError`)
when litestream's output is not what it is known to print, with the start of the text, never a raw
validation error.

>>> report = parse_restore_report(
...     '{"db_path": "/data/app.db", "replica": "s3", "txid": "000000000000002a",'
...     ' "duration_ms": 61, "integrity_check": "none"}'
... )
>>> report.txid, report.txid_number
('000000000000002a', 42)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .continuity import Continuity
from .errors import UnreadableOutput
from .layout import LtxFile as LtxFile  # its home before, and a field of ReplicaContents

T = TypeVar("T")
R = TypeVar("R")
_SHOWN = 120  # characters of unreadable output quoted in the error


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class RestoreReport(_Report):
    """What a restore did: where the database is, which position it was restored at, how long it took.

    ``restore_report()`` and ``ensure_restored()`` return it. ``txid`` is the transaction restored
    (litestream 0.5), ``generation`` the generation (0.3; ``None`` for a point in time there).
    ``duration_ms`` is litestream's own figure on 0.5, measured by pylts on 0.3; ``integrity_check``
    is the check the copy passed before it was moved into place. ``litestream restore -json``
    (0.5) prints the same fields, which is how its report is read.
    """

    db_path: Path
    replica: str
    txid: str | None = None
    generation: str | None = None
    duration_ms: int
    integrity_check: str = "none"

    @field_validator("txid", mode="before")
    @classmethod
    def _no_empty_txid(cls, value: object) -> object:
        """litestream 0.5 restoring a 0.3 replica (its generations have no txids) reports ``"txid": ""``."""
        return None if value == "" else value

    @property
    def txid_number(self) -> int | None:
        """The restored transaction id as an integer (``None`` on litestream 0.3, or from a 0.3 replica).

        >>> RestoreReport(db_path="a.db", replica="s3", txid="", duration_ms=5).txid_number is None
        True
        """
        return None if self.txid is None else int(self.txid, 16)


def parse_restore_report(text: str) -> RestoreReport | None:
    """Parse the JSON ``litestream restore -json`` prints (0.5); ``None`` when it printed none (0.3)."""
    body = text.strip()
    return read_reported("restore report", body, RestoreReport.model_validate_json) if body.startswith("{") else None


def read_reported(what: str, raw: T, parse: Callable[[T], R]) -> R:
    """``parse(raw)``, with a failure to understand it raised as `UnreadableOutput`."""
    try:
        return parse(raw)
    except (ValidationError, ValueError) as exc:
        shown = str(raw)[:_SHOWN]
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise UnreadableOutput(
            f"cannot read litestream's {what} ({reason}): it begins {shown!r}", output=str(raw)[:_SHOWN]
        ) from None


class Generation(_Report):
    """One generation of a litestream 0.3 replica (``litestream generations``)."""

    replica: str
    generation: str
    lag: str
    start: datetime
    end: datetime


class Snapshot(_Report):
    """One snapshot of a litestream 0.3 replica (``litestream snapshots``)."""

    replica: str
    generation: str
    index: int
    size: int
    created: datetime


class ReplicaContents(_Report):
    """What a replica holds: LTX files (litestream 0.5), or generations and snapshots (0.3)."""

    litestream_version: str
    ltx_files: list[LtxFile] = []
    generations: list[Generation] = []
    snapshots: list[Snapshot] = []
    #: The layouts found at the URL, whichever line wrote them: ``"0.5"`` (LTX files), ``"0.3"`` (generations).
    layouts: list[str] = []
    #: What files in a layout this litestream does not list mean, and what to do about them.
    notes: list[str] = []
    #: How far the LTX files reach with no gap (litestream 0.5; None: no files, or 0.3).
    continuity: Continuity | None = None

    @property
    def empty(self) -> bool:
        """True when the replica holds no backup at all, in either litestream line's layout."""
        return not (self.ltx_files or self.snapshots or self.layouts)

    @property
    def latest(self) -> datetime | None:
        """When the newest backup file was written."""
        times = [f.timestamp for f in self.ltx_files] + [g.end for g in self.generations]
        return max(times, default=None)
