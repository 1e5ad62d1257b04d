"""Back up a sample database to a local S3, delete it, restore it, and show it all came back.

Run it with `python3 tasks.py demo` (or `python examples/round_trip.py` inside the venv).
It exits non-zero if any step fails or a row differs. `--verbose` shows pylts' log.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import tempfile
import time
from contextlib import closing

from pylts import ConfigS3, PyltsError
from pylts.testing import LocalS3

ROWS = 10_000


def make_sample(cfg: ConfigS3) -> None:
    cfg.dbpath.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        conn.executemany("INSERT INTO notes (body) VALUES (?)", ((f"note {i}",) for i in range(ROWS)))


def summary(cfg: ConfigS3) -> tuple[int, str]:
    with closing(sqlite3.connect(f"file:{cfg.dbpath}?mode=ro", uri=True)) as conn:
        count, last = conn.execute("SELECT count(*), max(body) FROM notes").fetchone()
    return count, last


def round_trip(cfg: ConfigS3) -> bool:
    make_sample(cfg)
    before = summary(cfg)
    print(f"created   {cfg.dbpath.name}: {before[0]} rows, {cfg.dbpath.stat().st_size:,} bytes")

    started = time.perf_counter()
    if not cfg.timed_replicate(30):
        print("backup    did not finish within 30 s")
        return False
    print(
        f"backed up to {cfg.s3} in {time.perf_counter() - started:.2f} s; local copy deleted: {not cfg.dbpath.exists()}"
    )

    started = time.perf_counter()
    cfg.restore()
    after = summary(cfg)
    print(f"restored  {after[0]} rows in {time.perf_counter() - started:.2f} s")
    print(f"rows before {before} / after {after}: {'identical' if before == after else 'DIFFERENT'}")
    return before == after


def main(argv: list[str]) -> int:
    if "--verbose" in argv:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("pylts").setLevel(logging.DEBUG)
    with LocalS3() as s3, tempfile.TemporaryDirectory() as folder:
        print(f"local S3  {s3.endpoint} (moto, stopped on exit)")
        s3.create_bucket("pylts-demo")
        cfg = s3.config("pylts-demo", "notes.db", folder=folder, db="notes.db")
        try:
            ok = round_trip(cfg)
        except PyltsError as exc:
            print(f"failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
