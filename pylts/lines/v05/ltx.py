"""litestream 0.5's replica as LTX files: listing them, the newest transaction, and following the replica.

>>> from pathlib import Path
>>> from pylts.binary import Litestream, Version
>>> from pylts.replica import parse_replica_url
>>> follow_argv(Litestream(Path("/bin/litestream"), Version(0, 5, 17)), parse_replica_url("s3://bkt/a.db"),
...             Path("/d/.a.db-pylts-follow/run-1/a.db"), interval=0.5)
['/bin/litestream', 'restore', '-f', '-follow-interval', '500ms', '-o', '/d/.a.db-pylts-follow/run-1/a.db', 's3://bkt/a.db']
"""

from __future__ import annotations

import re
from pathlib import Path

from ... import sqlite_files
from ...binary import Litestream
from ...continuity import prove
from ...errors import BackupNotConfirmed, ListingUnavailable, LitestreamError, RestoreError
from ...replica import S3Replica
from ...reports import LtxFile, parse_ltx_files
from ...timing import Deadline
from ..base import Context

#: The replica's position in ``replicate -once``'s debug lines: a file uploaded, or litestream's replica position.
_REPLICA_POSITION = re.compile(
    r'msg="(?:ltx file uploaded|replica sync)" .*?\b(?:maxTXID|txid\.replica)=([0-9a-f]{16})\b'
)


def reported_txid(output: str) -> int:
    """The newest transaction a litestream 0.5 run reported the replica holds; 0 when it said nothing.

    >>> reported_txid(
    ...     'level=DEBUG msg="ltx file uploaded" db=a.db replica=s3 level=0 minTXID=0000000000000001 '
    ...     "maxTXID=000000000000000a size=4096\\n"
    ...     'level=DEBUG msg="replica sync" db=a.db replica=s3 txid.replica=0000000000000009 txid.db=000000000000000a'
    ... ), reported_txid('level=INFO msg="one-shot replication complete"')
    (10, 0)
    """
    return max((int(found.group(1), 16) for found in _REPLICA_POSITION.finditer(output)), default=0)


def unreplicated(ctx: Context, deadline: Deadline) -> str | None:
    """After litestream stopped: why the replica may not hold every transaction of ``ctx.db``, or ``None``.

    Asks the replica itself (one listing) rather than trusting what litestream last
    reported: its files must hold, with no gap, every transaction up to the newest one
    litestream captured locally, and the WAL must hold no commit past the newest local LTX file.
    """
    captured = sqlite_files.latest_ltx(ctx.db)
    wal = sqlite_files.wal_position(ctx.db)
    uncaptured = (
        captured is not None
        and wal is not None
        and wal.end > sqlite_files.WAL_HEADER_SIZE
        and (captured.wal_salts != wal.salts or captured.wal_end < wal.end)
    )
    if uncaptured:
        return f"{ctx.db} has commits litestream did not capture before it stopped"
    local = sqlite_files.local_txid(ctx.db) or 0
    held = prove(replica_ltx_files(ctx, deadline, failure=BackupNotConfirmed)).unbroken
    if held < local:
        return f"the replica holds transactions of {ctx.db.name} up to {held}, litestream captured up to {local}"
    return None


def ltx_argv(ls: Litestream, replica: S3Replica) -> list[str]:
    """``litestream ltx``: the LTX files a replica holds, at every compaction level, as JSON.

    Without ``-level all`` only level 0 is listed, which compaction empties within minutes.

    >>> from pylts.binary import Version
    >>> from pylts.replica import parse_replica_url
    >>> ltx_argv(Litestream(Path("/bin/litestream"), Version(0, 5, 17)), parse_replica_url("s3://bkt/a.db"))
    ['/bin/litestream', 'ltx', '-json', '-level', 'all', 's3://bkt/a.db']
    """
    return [str(ls.path), "ltx", "-json", "-level", "all", replica.url()]


def ltx_files(ctx: Context, deadline: Deadline, *, failure: type[LitestreamError] = RestoreError) -> list[LtxFile]:
    """Every LTX file the replica holds, at every level; a failed listing raises ``failure``."""
    argv = ltx_argv(ctx.litestream, ctx.replica)
    result = ctx.run(argv, deadline, failure=failure, action="listing the replica", error_lines_fail=True)
    return parse_ltx_files(result.stdout)


def replica_ltx_files(
    ctx: Context, deadline: Deadline, *, failure: type[LitestreamError] = RestoreError
) -> list[LtxFile]:
    """Every LTX file the store holds for the replica, every level, from its own listing (one LIST per 1,000 files).

    Where pylts cannot sign a listing itself (credentials from the AWS chain, which only
    litestream reads), ``litestream ltx`` lists them (one LIST per level).
    """
    try:
        return ctx.replica_objects(deadline, failure=failure).ltx_files
    except ListingUnavailable:
        return ltx_files(ctx, deadline, failure=failure)


def latest_txid(ctx: Context, deadline: Deadline, *, failure: type[LitestreamError] = RestoreError) -> int:
    """The newest transaction the replica holds (0 when it holds none)."""
    return max((f.max_txid_number for f in ltx_files(ctx, deadline, failure=failure)), default=0)


def follow_argv(ls: Litestream, replica: S3Replica, output: Path, *, interval: float) -> list[str]:
    """``litestream restore -f``: restore the replica into ``output``, then keep applying its changes."""
    milliseconds = max(round(interval * 1000), 1)
    return [str(ls.path), "restore", "-f", "-follow-interval", f"{milliseconds}ms", "-o", str(output), replica.url()]
