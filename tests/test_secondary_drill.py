"""Drill: the primary replica is deleted; a fresh machine boots from the second destination.

An app writes for a while under ``pylts replicate --exec``, with snapshots to a second bucket every few
seconds and a kill -9 of litestream on the way; then the primary's whole prefix is deleted and an empty
folder boots with ``pylts restore --if-missing``. Every write acknowledged before the newest snapshot the
second store's listing shows must come back; what is lost is measured against the schedule's interval.
With PYLTS_TEST_SECONDARY_FIGURES=docs/_generated/secondary-drill.md the figures are written there
(docs/reliability.md inlines that file).
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import PYLTS_COMMAND, derive, litestream_child, read_rows, reaped, settings_env, wait_until, write_rows

from pylts.deadline import Deadline
from pylts.secondary import list_snapshots
from pylts.testing import LocalS3

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.long]

APP = textwrap.dedent(
    """
    import os, sqlite3, sys, time
    db, acks, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    conn = sqlite3.connect(db, timeout=10)
    conn.execute("PRAGMA busy_timeout = 10000")
    end, i = time.monotonic() + seconds, 1000
    with open(acks, "a", buffering=1) as out:
        while time.monotonic() < end:
            with conn:
                conn.execute("INSERT INTO items (id, body) VALUES (?, ?)", (i, f"item {i}"))
            out.write(f"{i} {time.time():.6f}\\n")  # acknowledged: committed, and told
            i += 1
            time.sleep(0.01)
    """
)


#: The rows of the figures table, one per interval, in the order run.
ROWS: list[str] = []
#: Where to write them: read at import, as each test runs in a clean environment and another working directory.
FIGURES_TARGET = os.environ.get("PYLTS_TEST_SECONDARY_FIGURES")
TARGET = Path(FIGURES_TARGET).resolve() if FIGURES_TARGET else None


@pytest.mark.parametrize("interval", [2.0, 5.0])
def test_drill_primary_deleted_fresh_machine_boots_from_the_secondary(
    local_s3: LocalS3, bucket: str, tmp_path: Path, interval: float
) -> None:
    copies = f"{bucket[:40]}-copies"
    local_s3.create_bucket(copies)
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "machine-1")
    write_rows(cfg.dbpath, 1)
    app, acks = tmp_path / "app.py", tmp_path / "acks.txt"
    app.write_text(APP)
    extra = {"PYLTS_SECONDARY_URL": f"s3://{copies}/app.db", "PYLTS_SECONDARY_INTERVAL": f"{interval:g}s"}
    env = settings_env(cfg, **extra)
    seconds = 7.5 * interval + 0.3  # the app stops between two snapshots, as an outage would strike
    argv = [PYLTS_COMMAND, "replicate", "--exec", f"{sys.executable} {app} {cfg.dbpath} {acks} {seconds:g}"]
    with reaped(subprocess.Popen(argv, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)) as pylts:
        assert wait_until(lambda: acks.exists() and acks.stat().st_size > 0, 30)
        time.sleep(seconds / 2)
        victim = litestream_child(pylts.pid)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        _, stderr = pylts.communicate(timeout=seconds * 3 + 60)
    assert pylts.returncode == 0, stderr[-3000:]
    assert "second destination" in stderr, stderr[-3000:]
    acknowledged = {int(i): float(t) for i, t in (line.split() for line in acks.read_text().splitlines())}

    secondary = derive(cfg, secondary_url=extra["PYLTS_SECONDARY_URL"]).plan().secondary
    assert secondary is not None
    snapshots = list_snapshots(secondary, Deadline(30))  # proof: the second store's own listing
    assert len(snapshots) >= 4, snapshots
    newest = snapshots[0].taken_at.timestamp()

    client = local_s3._client()
    for key in local_s3.keys(bucket):  # the primary replica is deleted: its whole prefix
        client.delete_object(Bucket=bucket, Key=key)
    assert local_s3.keys(bucket) == []

    fresh = tmp_path / "machine-2"
    boot_env = settings_env(cfg, DB_FOLDER=str(fresh), **extra)
    booted = subprocess.run(
        [PYLTS_COMMAND, "restore", "--if-missing"], env=boot_env, cwd=tmp_path, capture_output=True, text=True
    )
    assert booted.returncode == 0, booted.stderr
    warning = next(line for line in booted.stderr.splitlines() if "second destination" in line)
    assert bucket in warning and copies in warning and snapshots[0].name in warning, warning
    assert cfg.token is not None and cfg.token.get_secret_value() not in booted.stdout + booted.stderr

    restored = {row[0] for row in read_rows(fresh / "app.db")}
    before = {i for i, at in acknowledged.items() if at < newest}
    assert before <= restored, sorted(before - restored)[:10]
    lost = sorted(set(acknowledged) - restored)
    last_ack = max(acknowledged.values())
    window = last_ack - newest
    assert all(acknowledged[i] >= newest for i in lost)
    assert window <= interval + 10, (window, interval)  # the schedule bounds the loss (plus one snapshot's time)
    gaps = [a.taken_at.timestamp() - b.taken_at.timestamp() for a, b in itertools.pairwise(snapshots)]
    ROWS.append(
        f"| {interval:g} s | {seconds:g} s, 1 kill -9 of litestream | {len(acknowledged)} | {len(snapshots)} "
        f"(every {min(gaps):.1f} to {max(gaps):.1f} s) | {len(before)} of {len(before)} | {len(lost)} "
        f"({window:.1f} s of writes after the newest snapshot) |"
    )
    if TARGET is not None:
        TARGET.write_text(
            "| interval | app ran | writes acknowledged | snapshots listed | acknowledged before the newest snapshot, "
            "restored | lost (acknowledged after it) |\n| --- | --- | --- | --- | --- | --- |\n"
            + "\n".join(ROWS)
            + "\n"
        )
