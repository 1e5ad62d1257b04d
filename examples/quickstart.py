"""Quick start: restore before the app boots, work, back up. Settings come from .env or the environment."""

import sqlite3
from contextlib import closing

from pylts import ConfigS3

cfg = ConfigS3()  # LITESTREAM_ACCESS_KEY_ID, LITESTREAM_SECRET_ACCESS_KEY, REPLICA_URL, ...

# 1. Before the app opens its database: bring it back from the replica if this machine has none.
outcome = cfg.ensure_restored()  # "restored", "fresh" (the replica holds no backup yet) or "existing"
print(f"database {outcome.value}: {cfg.dbpath}")

# 2. The app works with its database as usual.
with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
    conn.execute("CREATE TABLE IF NOT EXISTS visits (at TEXT DEFAULT CURRENT_TIMESTAMP)")
    conn.execute("INSERT INTO visits DEFAULT VALUES")
    (visits,) = conn.execute("SELECT count(*) FROM visits").fetchone()
print(f"{visits} visit(s) recorded")

# 3. A batch job backs up once and keeps its copy (delete=True, the default, removes it after a confirmed backup).
if cfg.timed_replicate(60, delete=False):
    print(f"backed up to {cfg.s3}")
else:
    raise SystemExit("the backup did not finish within 60 s")

# 4. Prove the backup restores and holds the latest write (a sentinel row, restored in a temporary folder).
result = cfg.verify(sync=True)
if not result.ok:
    raise SystemExit(f"backup not verified ({result.status}): {result.detail}")
print(f"backup verified: {result.status}")
