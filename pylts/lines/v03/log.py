"""Positions in litestream 0.3's debug log.

litestream 0.3 (run by pylts at debug level) says, about once a second, which position of a
database it is syncing (``replica sync ... position=GEN/IDX:OFF``) and which position its
replica holds (``replica sync: calc new pos ... position=...`` and ``wal segment written
... position=GEN/IDX:OFF sz=BYTES``). `read_positions` is the `pylts.events.PositionReader`
of this line:

>>> from pathlib import Path
>>> from pylts.events import SyncTracker
>>> from pylts.output import parse_line
>>> tracker = SyncTracker([Path("/data/app.db")], positions=read_positions)
>>> tracker.feed(parse_line("2026/11/22 12:49:58 DEBUG replica sync db=/data/app.db position=3ce1/00000000:8272"))
>>> tracker.in_sync()
False
>>> tracker.feed(
...     parse_line("2026/11/22 12:49:58 DEBUG wal segment written db=/data/app.db position=3ce1/00000000:32 sz=8240")
... )
>>> tracker.in_sync(), tracker.snapshot()[0].replica_position
(True, '3ce1/00000000:8272')
"""

from __future__ import annotations

from ...events import LogPositions, Position
from ...output import LogLine


def read_positions(line: LogLine) -> LogPositions | None:
    """The positions ``line`` reports, if it is one of the three lines that report them."""
    fields = line.fields
    db, position = fields.get("db"), fields.get("position")
    if not db or position is None:
        return None
    if line.message == "replica sync":
        return LogPositions(db, position=parse_position(position))
    if line.message == "replica sync: calc new pos":
        return LogPositions(db, replica=parse_position(position))
    if line.message == "wal segment written":  # the segment ends ``sz`` bytes after where it starts
        return LogPositions(db, replica=parse_position(position, advanced=int(fields.get("sz", 0))))
    return None


def parse_position(text: str, *, advanced: int = 0) -> Position:
    """Read ``GEN/IDX:OFF`` (``advanced`` bytes further in the same WAL index).

    >>> str(parse_position("3ce165c988a8804f/00000001:4152", advanced=8))
    '3ce165c988a8804f/00000001:4160'
    """
    generation, _, rest = text.partition("/")
    index, _, offset = rest.partition(":")
    return Position(generation, int(index, 16), int(offset or 0) + advanced)
