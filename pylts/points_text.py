"""How ``pylts points`` and ``pylts restore --dry-run`` say what they found, one fact a line.

>>> from datetime import datetime, timezone
>>> at = lambda s: datetime(2026, 12, 6, 2, 10, s, tzinfo=timezone.utc)
>>> f = LtxFile(level=9, min_txid="0000000000000001", max_txid="0000000000000020", size=1540, timestamp=at(40))
>>> print_plan(RestorePlan(replica="s3://bkt/app.db", restores_txid=32, files=[f], bytes=1540,
...            estimated_seconds=0.25, rate_source="measured"), Path("/srv/app.db"))
would restore /srv/app.db from s3://bkt/app.db: the latest point, txid 32 (0000000000000020)
  snapshots  0009/0000000000000001-0000000000000020.ltx       1,540 B  written 2026-12-06T02:10:40.000Z
1 file, 1,540 B to download, about 0.25 s (measured)
nothing was downloaded or written
"""

from __future__ import annotations

from pathlib import Path

from .layout import LtxFile
from .points import RestorePlan, RestorePoints, level_name, ltx_key, shown_time


def _step(seconds: float | None) -> str:
    if seconds is None:
        return "one file"
    if seconds < 120:
        return f"a point every ~{seconds:g} s"
    if seconds < 7200:
        return f"a point every ~{seconds / 60:.0f} min"
    return f"a point every ~{seconds / 3600:.1f} h"


def print_points(found: RestorePoints) -> None:
    """What ``pylts points`` prints."""
    print(f"replica {found.replica}")
    earliest = shown_time(found.earliest)
    print(f"earliest point  {earliest}  (txid {found.earliest_txid} and the files written before then)")
    print(f"latest point    {shown_time(found.latest)}  (the last --timestamp litestream takes)")
    print(f"newest txid     {found.latest_txid}  (a restore without --timestamp)")
    print(found.continuity.summary())
    print("granularity by age (finest first):")
    for band in found.bands:
        print(
            f"  {band.name:<9}  {shown_time(band.oldest)} .. {shown_time(band.newest)}  {band.files:>5} files "
            f"{band.bytes:>12,} B  txid {band.min_txid}-{band.max_txid}  {_step(band.step_seconds)}"
        )
    for snapshot in found.snapshots:
        print(f"snapshot  txid 1-{snapshot.max_txid_number}  {snapshot.size:>12,} B  {shown_time(snapshot.timestamp)}")
    files = "file" if found.download_files == 1 else "files"
    print(
        f"a restore of the latest point downloads {found.download_files} {files}, {found.download_bytes:,} B, "
        f"about {found.estimated_seconds:g} s ({found.rate_source})"
    )


def print_plan(plan: RestorePlan, db: Path) -> None:
    """What ``pylts restore --dry-run`` prints."""
    asked = (
        f"as of {plan.timestamp}" if plan.timestamp else f"up to txid {plan.txid}" if plan.txid else "the latest point"
    )
    print(f"would restore {db} from {plan.replica}: {asked}, txid {plan.restores_txid} ({plan.restores_txid:016x})")
    for file in plan.files:
        written = shown_time(file.timestamp)
        print(f"  {level_name(file.level):<9}  {ltx_key(file)}  {file.size:>10,} B  written {written}")
    files = "file" if len(plan.files) == 1 else "files"
    size = f"{plan.bytes:,} B"
    print(f"{len(plan.files)} {files}, {size} to download, about {plan.estimated_seconds:g} s ({plan.rate_source})")
    print("nothing was downloaded or written")


__all__ = ["LtxFile", "print_plan", "print_points"]
