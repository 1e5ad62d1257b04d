"""Reads on other machines: how far behind a follower runs, and how soon the VFS answers compared with a restore."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from pylts import ConfigS3, connect_readonly
from pylts.testing import LocalS3

from .harness import make_database, median, percentile, table_row, timed, writer

BUCKET = "bench-follow"
#: Each commit stamps its own wall-clock time, so a reader of the copy can tell how old its newest row is.
STAMP = "INSERT INTO stamps (id, at) VALUES (?, (julianday('now') - 2440587.5) * 86400.0)"
#: The follower's polling intervals measured: litestream's default, and a tighter one.
INTERVALS = (1.0, 0.2)
SAMPLE_EVERY = 0.1
#: The first read: one row by its key, as a web request would (the VFS fetches only the pages it touches).
POINT_READ = "SELECT length(body) FROM blobs WHERE id = 1"


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


def first_read(s3: LocalS3, sizes: dict[int, int], work: Path) -> list[str]:
    """Markdown rows: seconds to a first `POINT_READ` through the VFS vs ``restore()`` then the query (medians)."""
    rows = [
        "| size | runs | `restore()` + query | `vfs_reader()` + query | ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for size, runs in sizes.items():
        s3.reset()
        s3.create_bucket(BUCKET)
        source = s3.config(BUCKET, f"first-{size}.db", folder=work / f"first-{size}", db="bench.db")
        make_database(source.dbpath, size)
        assert source.timed_replicate(600, delete=False)
        restored, through_vfs = [], []
        for run in range(runs):
            copy = s3.config(BUCKET, f"first-{size}.db", folder=work / f"copy-{size}-{run}", db="bench.db")
            restored.append(timed(_restore_and_count, copy))
            through_vfs.append(timed(_vfs_count, copy))
        r, v = median(restored), median(through_vfs)
        rows.append(table_row(f"{size} MB", runs, f"{r:.2f} s", f"{v:.2f} s", f"**{v / r:.2f}×**"))
        print(rows[-1], flush=True)
    return rows


def _restore_and_count(cfg: ConfigS3) -> None:
    cfg.restore()
    with contextlib.closing(connect_readonly(cfg.dbpath)) as conn:
        conn.execute(POINT_READ).fetchone()


def _vfs_count(cfg: ConfigS3) -> None:
    with cfg.vfs_reader() as replica:
        replica.query(POINT_READ)


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
        rows += ["", *first_read(s3, {1: 3, 50: 3}, Path(folder))]
    text = "\n".join([f"Command: `python -m benchmarks.follower --seconds {args.seconds:g}`", "", *rows, ""])
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
