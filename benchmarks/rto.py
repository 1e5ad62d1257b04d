"""The recovery time: a fresh machine boots from the replica, pylts' way and bare litestream's way, in one run.

pylts' boot is ``ensure_restored()`` and the app's first query, in a Python process of its own
(so its peak memory, ``VmHWM``, is pylts' alone); bare is ``litestream restore -o`` of the
same replica. Both restore the same backup from the same S3 server into empty folders.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from pylts import ConfigS3
from pylts.binary import locate
from pylts.testing import LocalS3

from .harness import bare_env, make_database, median, table_row, timed

#: The app's boot: restore if missing, open the database, run a first query; report time and peak memory.
BOOT = """
import json, sqlite3, time
from contextlib import closing
from pylts import ConfigS3
started = time.perf_counter()
cfg = ConfigS3()
outcome = cfg.ensure_restored()
with closing(sqlite3.connect(cfg.dbpath)) as conn:
    rows = conn.execute("SELECT max(id) FROM blobs").fetchone()[0]  # a first query that reads little
seconds = time.perf_counter() - started
status = open("/proc/self/status").read().splitlines()
peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak, "rows": rows, "outcome": str(outcome)}))
"""


def recovery_time(s3: LocalS3, bucket: str, sizes: dict[int, int], work: Path) -> list[str]:
    """For each size (MB -> runs): medians of pylts' boot and of bare ``litestream restore``, and pylts' peak memory."""
    litestream = str(locate().path)
    rows = [
        table_row(
            "size",
            "bare `litestream restore`",
            "`ensure_restored()` + first query",
            "ratio",
            "peak memory of the Python side",
        ),
        table_row(*["---"] * 5),
    ]
    for size, runs in sizes.items():
        source = make_database(work / f"rto-{size}" / "boot.db", size)
        backup = s3.config(bucket, f"rto-{size}", folder=source.parent, db=source.name)
        subprocess.run(
            [litestream, "replicate", "-once", str(source), backup.replica.url()],
            env=bare_env(),
            check=True,
            capture_output=True,
        )
        shutil.rmtree(source.parent)
        bare, ours, peaks = [], [], []
        for run in range(runs):
            out = work / f"rto-bare-{run}" / "boot.db"
            bare.append(
                timed(
                    subprocess.run,
                    [litestream, "restore", "-o", str(out), backup.replica.url()],
                    env=bare_env(),
                    check=True,
                    capture_output=True,
                )
            )
            shutil.rmtree(out.parent)
            booted = _boot(backup, work / f"rto-pylts-{run}")
            assert booted["rows"] == size * 1024, booted
            ours.append(booted["seconds"])
            peaks.append(booted["peak_mb"])
        b, o = median(bare), median(ours)
        rows.append(table_row(f"{size:,} MB", f"{b:.2f} s", f"{o:.2f} s", f"**{o / b:.2f}×**", f"{max(peaks):.1f} MB"))
        print(rows[-1], flush=True)
    return rows


def _boot(backup: ConfigS3, folder: Path) -> dict[str, Any]:
    """Boot a fresh app (a Python process of its own) in ``folder`` from ``backup``'s replica."""
    assert backup.key is not None and backup.token is not None
    env = dict(
        bare_env(),
        REPLICA_URL=backup.s3,
        REPLICA_ENDPOINT=backup.endpoint or "",
        REPLICA_REGION=backup.region or "",
        DB_FOLDER=str(folder),
        DB_SQLITE=backup.db,
    )
    done = subprocess.run([sys.executable, "-c", BOOT], env=env, check=True, capture_output=True, text=True)
    booted: dict[str, Any] = json.loads(done.stdout)
    shutil.rmtree(folder)
    return booted
