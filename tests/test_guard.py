"""When pylts dies, even by SIGKILL, the app is gone before litestream's final sync starts.

The integration tests kill a real ``pylts replicate --exec`` running a writer that, like a web
server finishing its keep-alive requests, keeps committing for a while after SIGTERM.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import read_rows, settings_env

from pylts import ConfigS3

#: Seconds the writer keeps committing after SIGTERM (uvicorn measured 0.1-0.7 s in the issue).
LINGER = 0.5

WRITER = textwrap.dedent(
    """
    import signal, sqlite3, sys, time
    db, acked, linger = sys.argv[1], sys.argv[2], float(sys.argv[3])
    stop_at = None
    def on_sigterm(signum, frame):
        global stop_at
        stop_at = time.monotonic() + linger
    signal.signal(signal.SIGTERM, on_sigterm)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    with open(acked, "a") as out:
        i = 0
        while stop_at is None or time.monotonic() < stop_at:
            with conn:
                conn.execute("INSERT INTO items (id, body) VALUES (?, 'acknowledged')", (i,))
            out.write(f"{i}\\n")
            out.flush()
            i += 1
            time.sleep(0.005)
    """
)


def stat_fields(pid: int) -> list[str] | None:
    """State, ppid, pgrp, ... of ``pid`` from /proc (the fields after the command name), None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def is_gone(pid: int) -> bool:
    """Whether ``pid`` has exited (a zombie waiting for its new parent to reap it counts as gone)."""
    fields = stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


def children_of(pid: int) -> list[int]:
    """The pids whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def acknowledged(path: Path) -> list[int]:
    """The ids the writer committed and acknowledged (complete lines only)."""
    if not path.exists():
        return []
    return [int(line) for line in re.findall(r"(\d+)\n", path.read_text())]


def kill_pylts_under_load(cfg: ConfigS3, tmp_path: Path) -> tuple[list[int], list[int]]:
    """Run ``pylts replicate --exec WRITER``, SIGKILL pylts once writes flow; return (acked ids, pylts' children)."""
    writer, acked, log = tmp_path / "writer.py", tmp_path / "acked.txt", tmp_path / "pylts.log"
    writer.write_text(WRITER)
    command = shlex.join([sys.executable, str(writer), str(cfg.dbpath), str(acked), str(LINGER)])
    argv = [sys.executable, "-m", "pylts", "replicate", "--exec", command]
    with open(log, "wb") as out:
        pylts = subprocess.Popen(argv, env=settings_env(cfg), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    children: list[int] = []
    try:
        assert wait_until(lambda: len(acknowledged(acked)) >= 300, 60), log.read_text()
        children = children_of(pylts.pid)
        pylts.kill()
        pylts.wait(timeout=10)
        assert wait_until(lambda: all(is_gone(pid) for pid in children), 60), f"still running: {children}"
    finally:
        if pylts.poll() is None:
            pylts.kill()
            pylts.wait()
        for pid in children:  # only after a failure above: no test leaves processes behind
            if not is_gone(pid):
                os.kill(pid, signal.SIGKILL)
    return acknowledged(acked), children


@pytest.mark.integration
@pytest.mark.parametrize("run", range(5))
def test_kill_9_of_pylts_keeps_every_acknowledged_write(run: int, cfg: ConfigS3, local_s3, bucket: str, tmp_path: Path) -> None:
    acked, children = kill_pylts_under_load(cfg, tmp_path)
    assert len(children) >= 2, "pylts should have run litestream and the writer"
    copy = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "restored", litestream_bin=cfg.litestream_bin)
    copy.restore()
    kept = {row[0] for row in read_rows(copy.dbpath)}
    missing = sorted(set(acked) - kept)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes are missing from the replica: {missing[:10]} ..."
