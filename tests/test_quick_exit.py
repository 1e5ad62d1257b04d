"""A quick exit after boot still leaves every committed row in the replica (litestream #436).

The app under ``pylts replicate --exec`` commits 50 rows within a second of starting, then
either exits by itself or is stopped with SIGTERM sent to pylts. When pylts returns, a
restore on another machine holds all 50.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import read_rows, reaped, record, settings_env

from pylts import ConfigS3

pytestmark = [pytest.mark.integration, pytest.mark.serial]

APP = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1])
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    for i in range(50):
        with conn:
            conn.execute("INSERT INTO items (id, body) VALUES (?, 'quick')", (i,))
        time.sleep(0.01)
    print("committed", flush=True)
    if sys.argv[2] == "wait":
        time.sleep(60)
    """
)


def elsewhere(cfg: ConfigS3, folder: Path) -> list[tuple[int, str]]:
    other = ConfigS3(
        key=cfg.key,
        token=cfg.token,
        s3=cfg.s3,
        endpoint=cfg.endpoint,
        region=cfg.region,
        db=cfg.db,
        folder=folder,
        litestream_bin=cfg.litestream_bin,
    )
    assert other.ensure_restored().value == "restored"
    return read_rows(other.dbpath)


@pytest.mark.parametrize("ending", ["exit", "sigterm"])
def test_drill_quick_exit_fifty_rows_in_the_first_second_all_reach_the_replica(
    ending: str, cfg: ConfigS3, tmp_path: Path
) -> None:
    app = shlex.join([sys.executable, "-c", APP, str(cfg.dbpath), "wait" if ending == "sigterm" else "exit"])
    command = [sys.executable, "-m", "pylts", "replicate", "--exec", app]
    with reaped(subprocess.Popen(command, env=settings_env(cfg), stdout=subprocess.PIPE, text=True)) as pylts:
        assert pylts.stdout is not None
        started = time.monotonic()
        assert pylts.stdout.readline().strip() == "committed"
        committed_after = time.monotonic() - started
        assert committed_after < 30
        if ending == "sigterm":
            pylts.send_signal(signal.SIGTERM)
        code = pylts.wait(timeout=60)
    assert code in (0, 128 + signal.SIGTERM), code
    restored = [row[0] for row in elsewhere(cfg, tmp_path / "elsewhere")]
    assert restored == list(range(50))
    how = "the app exits" if ending == "exit" else "SIGTERM to pylts"
    record(
        "11. quick exit after boot",
        cfg,
        f"50 rows committed {committed_after:.1f} s after pylts started, "
        f"then {how}: exit {code}, {len(restored)} of 50 restored",
    )
