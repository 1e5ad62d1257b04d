"""A batch job on a throwaway machine: restore, work, back up once, and prove the backup restores."""

import sqlite3
import sys
from contextlib import closing
from datetime import datetime, timezone

from pylts import ConfigS3

cfg = ConfigS3()
print(f"database: {cfg.ensure_restored().value}")  # restored, fresh or existing

with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
    conn.execute("CREATE TABLE IF NOT EXISTS runs (at TEXT NOT NULL)")
    conn.execute("INSERT INTO runs (at) VALUES (?)", (datetime.now(timezone.utc).isoformat(),))
    (runs,) = conn.execute("SELECT count(*) FROM runs").fetchone()
print(f"run number {runs}")

result = cfg.verify(sync=True)  # one-shot backup of everything, then a restore that must hold it
print(f"backup verified: {result.status}, lag {result.lag_seconds} s")
if not result.ok:
    sys.exit(f"backup not verified: {result.detail}")
if not cfg.timed_replicate(120):  # nothing new since verify; deletes the local copy once confirmed
    sys.exit("backup did not finish in time")
