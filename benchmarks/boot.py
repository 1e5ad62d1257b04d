"""Boot with nothing to do: what `ensure_restored()` costs when the local copy is present and current.

pylts 0.1 only checked that the file existed (and so booted on stale or foreign copies). The
boot decision now asks the replica once; this section shows that one listing is all it adds,
as a ratio to the bare litestream listing in the same run.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pylts.binary import locate
from pylts.lines.v05.ltx import ltx_argv
from pylts.testing import LocalS3

from .harness import bare_env, make_database, median, table_row, timed

BUCKET = "boot"


def boot_with_nothing_to_do(s3: LocalS3, runs: int, work: Path) -> list[str]:
    s3.create_bucket(BUCKET)
    cfg = s3.config(BUCKET, "app.db", folder=work / "boot", db="app.db")
    make_database(cfg.dbpath, 1)
    if not cfg.timed_replicate(600, delete=False):
        raise RuntimeError("the backup the boot benchmark starts from did not happen")
    litestream = locate()
    listing = ltx_argv(litestream, cfg.replica)  # 0.5's one listing; the CLI default line
    env = bare_env()
    old = median([timed(cfg.dbpath.exists) for _ in range(runs)])
    bare = median([timed(subprocess.run, listing, env=env, check=True, capture_output=True) for _ in range(runs)])
    ours = []
    for _ in range(runs):
        ours.append(timed(cfg.ensure_restored))
        if cfg.ensure_restored().value != "existing":
            raise RuntimeError("the boot benchmark expected an existing, current database")
    now = median(ours)
    return [
        table_row(
            "0.1: the file exists", "bare `litestream ltx -level all` (one listing)", "`ensure_restored()`", "ratio"
        ),
        table_row(*["---"] * 4),
        table_row(f"{old * 1000:.3f} ms", f"{bare * 1000:.0f} ms", f"{now * 1000:.0f} ms", f"**{now / bare:.2f}×**"),
    ]
