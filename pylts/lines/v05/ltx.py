"""litestream 0.5's replica as LTX files: listing them, the newest transaction, and following the replica.

>>> files = parse_ltx_files(
...     '[{"level": 0, "min_txid": "0000000000000001", "max_txid": "0000000000000003",'
...     ' "size": 566, "timestamp": "2026-11-22T13:12:45Z"}]'
... )
>>> files[0].max_txid_number, files[0].timestamp.year
(3, 2026)
>>> parse_ltx_files('[{"level": 0, "min_txid": "00')
Traceback (most recent call last):
...
pylts.errors.UnreadableOutput: cannot read litestream's list of LTX files (...):
it begins '[{"level": 0, "min_txid": "00'

>>> from pathlib import Path
>>> from pylts.binary import Litestream, Version
>>> from pylts.replica import parse_replica_url
>>> follow_argv(Litestream(Path("/bin/litestream"), Version(0, 5, 17)), parse_replica_url("s3://bkt/a.db"),
...             Path("/d/.a.db-pylts-follow/run-1/a.db"), interval=0.5)
['/bin/litestream', 'restore', '-f', '-follow-interval', '500ms', '-o', '/d/.a.db-pylts-follow/run-1/a.db', 's3://bkt/a.db']
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from pydantic import TypeAdapter

from ... import sqlite_files
from ...binary import Litestream
from ...continuity import prove
from ...deadline import Deadline
from ...errors import BackupNotConfirmed, ListingUnavailable, LitestreamError, ReplicationError, RestoreError
from ...layout import LtxFile, level_folder
from ...replica import S3Replica
from ...reports import read_reported
from ..base import Context

_LTX_FILES = TypeAdapter(list[LtxFile])


def parse_ltx_files(text: str) -> list[LtxFile]:
    """Parse the output of ``litestream ltx -json`` (``null`` means no files)."""
    body = text.strip()
    if body in ("", "null"):
        return []
    return read_reported("list of LTX files", body, _LTX_FILES.validate_json)


def local_txid(db: Path) -> int | None:
    """The newest transaction litestream 0.5 captured of ``db``, from its LTX file names at every level."""
    names = (p.stem.partition("-")[2] for p in sqlite_files.litestream_meta(db).glob("ltx/*/*.ltx"))
    return max((int(name, 16) for name in names if name), default=None)


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
    if sqlite_files.latest_ltx(ctx.db) is not None and captured_txid(ctx.db, sqlite_files.wal_position(ctx.db)) is None:
        return f"{ctx.db} has commits litestream did not capture before it stopped"
    local = local_txid(ctx.db) or 0
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


def captured_txid(db: Path, wal: sqlite_files.WalPosition | None) -> int | None:
    """The newest transaction litestream captured locally once its LTX files hold ``wal``'s commits, else None.

    ``wal`` is where the WAL's commits ended at some moment (`pylts.sqlite_files.wal_position`).
    Each level-0 file's header says which WAL it read (its salts), and up to where. The oldest
    file of that WAL that reads it up to ``wal``'s end holds its last commit, even when a
    checkpoint has restarted the WAL since and newer files read the next one; when no file of
    that WAL reaches so far (litestream has not read it yet), nothing is proven.
    """
    if wal is None or not wal.commits:
        latest = sqlite_files.latest_ltx(db)
        return None if latest is None else latest.max_txid
    captured = None
    for ltx in sqlite_files.level0_ltx(db):  # the newest first
        if ltx.wal_salts == wal.salts:
            if ltx.wal_end < wal.end:
                break  # this file and those before it end before the commits waited for
            captured = ltx.max_txid
        elif captured is not None:
            break  # a file of an earlier WAL: the files of this one are behind
    return captured


def replica_reaches(ctx: Context, txid: int, deadline: Deadline) -> int:
    """The newest transaction of the level-0 file that holds ``txid`` in the replica, or 0: one LIST of one key.

    litestream uploads level-0 files in order under the names it gave them locally
    (``<min>-<max>.ltx``), so the first key at or after the local file that captured ``txid``
    says whether it was uploaded: only that file counts. A later one alone (a replica wiped
    since, or another database's files at the same path) proves nothing. A failed listing
    raises `ReplicationError` (its cause's type where the store names one),
    `ListingUnavailable` where pylts cannot sign one.
    """
    start = local_file_start(ctx.db, txid)
    objects = ctx.replica_objects(deadline, failure=ReplicationError, after=f"{level_folder(0)}{start:016x}", limit=1)
    held = (f for f in objects.ltx_files if f.level == 0 and f.min_txid_number == start)
    return max((f.max_txid_number for f in held), default=0)


def local_file_start(db: Path, txid: int) -> int:
    """The first transaction of the local level-0 file that holds ``txid`` (``txid`` itself when none does)."""
    for path in (sqlite_files.litestream_meta(db) / "ltx" / "0").glob("*.ltx"):
        low, _, high = path.stem.partition("-")
        with contextlib.suppress(ValueError):
            if int(low, 16) <= txid <= int(high, 16):
                return int(low, 16)
    return txid


def latest_txid(ctx: Context, deadline: Deadline, *, failure: type[LitestreamError] = RestoreError) -> int:
    """The newest transaction the replica holds (0 when it holds none)."""
    return max((f.max_txid_number for f in ltx_files(ctx, deadline, failure=failure)), default=0)


def follow_argv(ls: Litestream, replica: S3Replica, output: Path, *, interval: float) -> list[str]:
    """``litestream restore -f``: restore the replica into ``output``, then keep applying its changes."""
    milliseconds = max(round(interval * 1000), 1)
    return [str(ls.path), "restore", "-f", "-follow-interval", f"{milliseconds}ms", "-o", str(output), replica.url()]
