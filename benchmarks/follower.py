"""How far behind a follower runs: a 100 tx/s writer replicating, a follower in another folder, a reader sampling it."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from pylts import connect_readonly
from pylts.testing import LocalS3

from .harness import percentile, table_row, writer

BUCKET = "bench-follow"
#: Each commit stamps its own wall-clock time, so a reader of the copy can tell how old its newest row is.
STAMP = "INSERT INTO stamps (id, at) VALUES (?, (julianday('now') - 2440587.5) * 86400.0)"
#: The follower's polling intervals measured: litestream's default, and a tighter one.
INTERVALS = (1.0, 0.2)
SAMPLE_EVERY = 0.1


def follower_lag(s3: LocalS3, seconds: float, work: Path) -> list[str]:
    """Markdown rows: age of the newest row a reader of the follower's copy sees, sampled every 0.1 s."""
    rows = [
        "| follower interval | writer | samples | p50 | p99 | max |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for interval in INTERVALS:
        s3.reset()
        s3.create_bucket(BUCKET)
        primary = s3.config(BUCKET, "app.db", folder=work / f"primary-{interval:g}", db="app.db")
        reader = s3.config(BUCKET, "app.db", folder=work / f"reader-{interval:g}", db="app.db")
        primary.folder.mkdir(parents=True)
        with contextlib.closing(sqlite3.connect(primary.dbpath)) as conn, conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE stamps (id INTEGER PRIMARY KEY, at REAL NOT NULL)")
        with (
            primary.replicating(),
            writer(primary.dbpath, STAMP) as written,
            reader.follow(interval=interval) as follower,
        ):
            ages = _sample(follower.path, seconds)
            rate = len(written) / seconds
        rows.append(
            table_row(
                f"{interval:g} s",
                f"{rate:.0f} tx/s",
                len(ages),
                f"{percentile(ages, 0.5):.2f} s",
                f"**{percentile(ages, 0.99):.2f} s**",
                f"{max(ages, default=float('nan')):.2f} s",
            )
        )
        print(rows[-1], flush=True)
    return rows


def _sample(copy: Path, seconds: float) -> list[float]:
    """Every 0.1 s for ``seconds``: now minus the commit time of the newest row the copy holds."""
    ages = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with contextlib.closing(connect_readonly(copy)) as conn:
            (newest,) = conn.execute("SELECT max(at) FROM stamps").fetchone()
        if newest is not None:
            ages.append(time.time() - newest)
        time.sleep(SAMPLE_EVERY)
    return ages


def main() -> None:
    """``python -m benchmarks.follower [--seconds N] [--output PATH]``: this section alone, for longer."""
    import argparse
    import tempfile

    from .harness import s3_server

    parser = argparse.ArgumentParser(prog="python -m benchmarks.follower", description=main.__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to sample each interval (default 60)")
    parser.add_argument("--output", type=Path, help="also write the rows here")
    args = parser.parse_args()
    with s3_server() as (s3, _), tempfile.TemporaryDirectory(prefix="pylts-bench-") as folder:
        rows = follower_lag(s3, args.seconds, Path(folder))
    text = "\n".join([f"Command: `python -m benchmarks.follower --seconds {args.seconds:g}`", "", *rows, ""])
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
