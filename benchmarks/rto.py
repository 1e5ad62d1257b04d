"""Restores and the recovery time: a fresh machine gets the replica, pylts' ways and bare litestream's, in one run.

pylts' restores are ``restore()`` in-process, the ``pylts restore`` command, and the app's boot
(``ensure_restored()`` and its first query, in a Python process of its own, so its peak memory,
``VmHWM``, is pylts' alone); bare is ``litestream restore -o`` of the same replica. All restore
the same backup from the same S3 server into empty folders.
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
from .targets import check

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
    """For each size (MB -> runs): medians of bare ``litestream restore`` and of pylts' restores of the same replica.

    pylts' side: ``restore()`` in this process (no integrity check, then the default quick one),
    the ``pylts restore`` command (a process of its own, no check), and the app's boot
    (``ensure_restored()`` and a first query, a process of its own, with its peak memory).
    """
    litestream = str(locate().path)
    rows = [
        table_row(
            "size",
            "bare `litestream restore`",
            "`restore()` (no check)",
            "ratio",
            "`restore()` (quick check)",
            "ratio",
            "`pylts restore --integrity-check none`",
            "ratio",
            "`ensure_restored()` + first query",
            "ratio",
            "peak memory of the boot",
        ),
        table_row(*["---"] * 11),
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
        times: dict[str, list[float]] = {name: [] for name in ("bare", "none", "quick", "cli", "boot")}
        peaks = []
        for run in range(runs):
            out = work / f"rto-bare-{run}" / "boot.db"
            argv = [litestream, "restore", "-o", str(out), backup.replica.url()]
            times["bare"].append(timed(subprocess.run, argv, env=bare_env(), check=True, capture_output=True))
            shutil.rmtree(out.parent)
            for mode in ("none", "quick"):
                into = backup.model_copy(update={"folder": work / f"rto-{mode}-{run}"})
                into.folder.mkdir()
                times[mode].append(timed(into.restore, integrity_check=mode))
                shutil.rmtree(into.folder)
            times["cli"].append(timed(_cli_restore, backup, work / f"rto-cli-{run}"))
            booted = _boot(backup, work / f"rto-pylts-{run}")
            assert booted["rows"] == size * 1024, booted
            times["boot"].append(booted["seconds"])
            peaks.append(booted["peak_mb"])
        medians = {name: median(values) for name, values in times.items()}
        bare = medians["bare"]
        cells = [f"{size:,} MB", f"{bare:.2f} s"]
        for name in ("none", "quick", "cli", "boot"):
            cells += [f"{medians[name]:.2f} s", f"**{medians[name] / bare:.2f}×**"]
        rows.append(table_row(*cells, f"{max(peaks):.1f} MB"))
        print(rows[-1], flush=True)
        limit = RESTORE_LIMITS.get(size)
        if limit is not None:
            check(f"`restore()` at {size:,} MB (no check), against bare", medians["none"] / bare, limit, "×")
        if size == CLI_SIZE:
            check(f"`pylts restore` at {size:,} MB (no check), against bare", medians["cli"] / bare, CLI_LIMIT, "×")
    return rows


#: In-process ``restore()`` (no integrity check) against bare ``litestream restore``, by size in MB.
RESTORE_LIMITS = {10: 1.1, 1024: 1.05}
#: The ``pylts restore`` command against bare ``litestream restore``, at this size in MB.
CLI_SIZE, CLI_LIMIT = 10, 1.3


def _cli_restore(backup: ConfigS3, folder: Path) -> None:
    """``pylts restore --integrity-check none`` into an empty ``folder``, as a user runs it."""
    pylts = Path(sys.executable).with_name("pylts")
    subprocess.run(
        [str(pylts), "restore", "--integrity-check", "none"], env=_env(backup, folder), check=True, capture_output=True
    )
    shutil.rmtree(folder)


def _env(backup: ConfigS3, folder: Path) -> dict[str, str]:
    """The environment of an app that restores ``backup``'s replica into ``folder``."""
    return dict(
        bare_env(),
        REPLICA_URL=backup.s3,
        REPLICA_ENDPOINT=backup.endpoint or "",
        REPLICA_REGION=backup.region or "",
        DB_FOLDER=str(folder),
        DB_SQLITE=backup.db,
    )


def _boot(backup: ConfigS3, folder: Path) -> dict[str, Any]:
    """Boot a fresh app (a Python process of its own) in ``folder`` from ``backup``'s replica."""
    done = subprocess.run(
        [sys.executable, "-c", BOOT], env=_env(backup, folder), check=True, capture_output=True, text=True
    )
    booted: dict[str, Any] = json.loads(done.stdout)
    shutil.rmtree(folder)
    return booted
