"""Proof from the replica's own files that a restore can rebuild every transaction: no gap in the chain.

Pure. litestream 0.5 restores the latest snapshot (level 9, transactions 1 to N), then the
files of every level after it, each starting where the last one ended. A file missing from
the middle of that chain makes ``restore`` fail ("non-contiguous ltx files", measured on
0.5.17), and a replica wiped under a running litestream holds a chain that starts after 1
with no snapshot. `prove` reads the txid ranges of the files at every level and says how far
the chain reaches unbroken, and where it breaks.

>>> from datetime import datetime, timezone
>>> from pylts.layout import LtxFile
>>> def f(level, lo, hi):
...     now = datetime(2026, 12, 4, tzinfo=timezone.utc)
...     return LtxFile(level=level, min_txid=f"{lo:016x}", max_txid=f"{hi:016x}", size=1, timestamp=now)
>>> proof = prove([f(9, 1, 1), f(1, 1, 30), f(0, 31, 31), f(0, 33, 40)])
>>> proof.proven, proof.unbroken, proof.head, proof.gaps
(False, 31, 40, [Gap(after=31, before=33)])
>>> proof.summary()
'transactions 32 to 32 are missing (the chain breaks after 31; the newest file ends at 40)'
>>> prove([f(9, 1, 1), f(0, 2, 5)]).summary()
'continuous up to txid 5'
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict


def restore_window(files: Iterable[Timed]) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest moment a restore as of a timestamp takes, from the files' times in the store.

    The one window of pylts (the metrics, the status page, ``pylts points``, the dry run's message).
    Earliest: the first whole second after the oldest file that starts at transaction 1 (a snapshot or
    a file from 1): a store's ``LastModified`` may be cut to the second while the time litestream
    wrote into the file (what ``restore -timestamp`` compares) has its fraction, so the second after
    holds the file for sure. Latest: the newest file's time (litestream refuses a later one).

    >>> from datetime import datetime, timezone
    >>> from pylts.layout import LtxFile
    >>> def f(level, lo, hi, hour, second=0):
    ...     at = datetime(2026, 12, 4, hour, 0, second, tzinfo=timezone.utc)
    ...     return LtxFile(level=level, min_txid=f"{lo:016x}", max_txid=f"{hi:016x}", size=1, timestamp=at)
    >>> [m.isoformat() for m in restore_window([f(9, 1, 30, 8), f(1, 1, 20, 6, 5), f(0, 31, 31, 9)])]
    ['2026-12-04T06:00:06+00:00', '2026-12-04T09:00:00+00:00']
    >>> restore_window([])
    (None, None)
    """
    files = list(files)
    first = min((f.timestamp for f in files if f.min_txid_number == 1), default=None)
    return None if first is None else second_after(first), max((f.timestamp for f in files), default=None)


def second_after(moment: datetime) -> datetime:
    """The first whole second after ``moment``: a restore as of then includes a file written at ``moment``.

    >>> from datetime import datetime, timezone
    >>> second_after(datetime(2026, 12, 6, 2, 5, 58, 169000, tzinfo=timezone.utc)).isoformat()
    '2026-12-06T02:05:59+00:00'
    >>> second_after(datetime(2026, 12, 6, 2, 5, 58, tzinfo=timezone.utc)).isoformat()
    '2026-12-06T02:05:59+00:00'
    """
    whole = moment.replace(microsecond=0)
    return whole + timedelta(seconds=1)


class TxidRange(Protocol):
    """What `prove` reads of a file of the replica (`pylts.layout.LtxFile` is one): its level and txid range."""

    @property
    def level(self) -> int: ...
    @property
    def min_txid_number(self) -> int: ...
    @property
    def max_txid_number(self) -> int: ...


class Timed(TxidRange, Protocol):
    """A file of the replica with the time it was written (`pylts.layout.LtxFile` is one)."""

    @property
    def timestamp(self) -> datetime: ...


#: litestream 0.5's level of full snapshots (its ``SnapshotLevel``): a file there holds transactions 1 to its max.
SNAPSHOT_LEVEL = 9


class Gap(BaseModel):
    """Transactions missing from the chain: every one after ``after`` and before ``before``."""

    model_config = ConfigDict(frozen=True)

    after: int
    before: int

    def __str__(self) -> str:
        return f"{self.after + 1} to {self.before - 1}"


class Continuity(BaseModel):
    """How far the replica's files reach, from the latest snapshot (or txid 1) to the newest file, and its gaps."""

    model_config = ConfigDict(frozen=True)

    #: The newest transaction any file holds (0: no file).
    head: int
    #: The newest transaction a restore reaches with no gap before it (0: none).
    unbroken: int
    #: Where the chain breaks, oldest first.
    gaps: list[Gap]
    #: The newest transaction of the latest snapshot (None: no snapshot).
    snapshot: int | None
    #: How many files were read.
    files: int

    @property
    def proven(self) -> bool:
        """True when the files hold an unbroken chain to the newest one (and there is at least one file)."""
        return self.files > 0 and not self.gaps

    def summary(self) -> str:
        """One line for people: ``continuous up to txid N``, or which transactions are missing.

        >>> prove([]).summary()
        'no LTX files: the replica holds no backup'
        """
        if not self.files:
            return "no LTX files: the replica holds no backup"
        if not self.gaps:
            return f"continuous up to txid {self.unbroken}"
        missing = ", ".join(str(gap) for gap in self.gaps)
        first = "no snapshot and " if self.snapshot is None and self.gaps[0].after == 0 else ""
        return (
            f"{first}transactions {missing} are missing "
            f"(the chain breaks after {self.unbroken}; the newest file ends at {self.head})"
        )


def prove(files: Iterable[TxidRange]) -> Continuity:
    """Follow the chain from the latest snapshot through the files of every level, as a restore does.

    A file whose range a larger file covers is no gap (compaction keeps both for a while);
    files older than the latest snapshot are not needed.

    >>> from datetime import datetime, timezone
    >>> from pylts.layout import LtxFile
    >>> def f(level, lo, hi):
    ...     now = datetime(2026, 12, 4, tzinfo=timezone.utc)
    ...     return LtxFile(level=level, min_txid=f"{lo:016x}", max_txid=f"{hi:016x}", size=1, timestamp=now)
    >>> wiped = prove([f(0, 50, 50), f(0, 51, 51)])
    >>> wiped.gaps, wiped.unbroken, wiped.summary()
    ([Gap(after=0, before=50)], 0, 'no snapshot and transactions 1 to 49 are missing (...; the newest file ends at 51)')
    >>> prove([f(9, 1, 40), f(0, 7, 7), f(0, 41, 41)]).proven  # a hole before the snapshot does not matter
    True
    """
    files = list(files)
    snapshots = [f.max_txid_number for f in files if f.level == SNAPSHOT_LEVEL]
    snapshot = max(snapshots, default=None)
    reached = snapshot or 0
    unbroken: int | None = None
    gaps: list[Gap] = []
    for low, high in sorted((f.min_txid_number, f.max_txid_number) for f in files if f.level != SNAPSHOT_LEVEL):
        if high <= reached:
            continue
        if low > reached + 1:
            gaps.append(Gap(after=reached, before=low))
            unbroken = reached if unbroken is None else unbroken
        reached = high
    head = max((f.max_txid_number for f in files), default=0)
    return Continuity(
        head=head,
        unbroken=reached if unbroken is None else unbroken,
        gaps=gaps,
        snapshot=snapshot,
        files=len(files),
    )


class ReplicaCheck(BaseModel):
    """What a check of the replica itself found for one database; ``problem`` is None when it is whole.

    ``continuity`` is the proof from its LTX files (litestream 0.5); ``generations`` how many
    generations it holds (0.3, which has no transaction ids).
    """

    model_config = ConfigDict(frozen=True)

    path: Path
    problem: str | None = None
    continuity: Continuity | None = None
    generations: int | None = None
    #: The oldest time a restore can reach, as the replica's files say (None: not known, e.g. litestream 0.3).
    earliest: datetime | None = None
    #: The newest time a restore reaches: the newest file of an unbroken chain (None: not known, or not whole).
    latest: datetime | None = None

    @property
    def ok(self) -> bool:
        """True when the replica can give the database back."""
        return self.problem is None
