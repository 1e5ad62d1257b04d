"""The recovery point, measured from outside: crash a replicating app with SIGKILL, restore, count what is lost.

The app (``python tests/rpo.py LOG``, settings from its environment) commits one row 100 times a second
under ``ConfigS3.replicating()`` and appends ``id unix-time`` to LOG after each commit returns: a commit
log kept outside the database. `crash_and_restore` kills the whole process tree (app and pylts,
litestream, pylts' guard) with SIGKILL at a random moment, restores the replica into a fresh folder,
and compares it with that log.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from helpers import derive, read_rows, reaped, settings_env

from pylts import ConfigS3

PER_SECOND = 100
#: litestream's default sync interval on both lines (pylts does not change it).
SYNC_INTERVAL = 1.0


@dataclass(frozen=True)
class Crash:
    """One kill: what the app had committed, what the restored replica holds, and the lost commits' ages."""

    committed: int
    restored: int
    lost_ages: list[float]


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc (pylts starts litestream in a session of its own)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def kill_tree(pid: int) -> None:
    """Freeze the whole tree (so no member reacts to another dying), then SIGKILL every member."""
    stopped: set[int] = set()
    while fresh := set(descendants(pid)) - stopped:
        for member in fresh:
            _send(member, signal.SIGSTOP)
        stopped |= fresh
    for member in stopped:
        _send(member, signal.SIGKILL)


def _send(pid: int, signal_number: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal_number)


def commit_log(path: Path) -> dict[int, float]:
    """id -> commit time, from the app's log (a last line cut by the kill is ignored)."""
    logged = {}
    for line in path.read_text().splitlines():
        number, _, at = line.partition(" ")
        if at:
            logged[int(number)] = float(at)
    return logged


def crash_and_restore(cfg: ConfigS3, folder: Path, rng: random.Random) -> Crash:
    """Run the app on ``cfg``, SIGKILL its tree after 1-4 s of writes, restore into ``folder``, compare."""
    log = folder / "commits.log"
    folder.mkdir(parents=True)
    app = subprocess.Popen(
        [sys.executable, __file__, str(log)], env=settings_env(cfg), stdout=subprocess.PIPE, text=True
    )
    with reaped(app):
        assert app.stdout is not None
        assert app.stdout.readline().strip() == "replicating", "the app did not start"
        time.sleep(rng.uniform(1.0, 4.0))
        killed_at = time.time()
        kill_tree(app.pid)
    restored_copy = derive(cfg, folder=folder / "restored")
    restored_copy.restore(timeout=60)
    held = {row[0] for row in read_rows(restored_copy.dbpath)}
    logged = commit_log(log)
    assert held == set(range(len(held))), "the restore is a prefix of the commits, without holes"
    assert held <= set(logged) | {len(logged)}, "nothing restored that was not committed (the last may be unlogged)"
    return Crash(
        committed=len(logged),
        restored=len(held),
        lost_ages=sorted(killed_at - at for number, at in logged.items() if number not in held),
    )


def summary(crashes: list[Crash]) -> str:
    """The figures of several kills, as one line."""
    ages = sorted(age for crash in crashes for age in crash.lost_ages)
    lost = [len(crash.lost_ages) for crash in crashes]
    text = (
        f"{len(crashes)} kills; {sum(c.committed for c in crashes)} commits, "
        f"lost per kill: median {statistics.median(lost):g}, max {max(lost)}"
    )
    if ages:
        text += f"; age of lost commits: p50 {statistics.median(ages):.2f} s, max {ages[-1]:.2f} s"
    return text


def app(log: Path) -> None:
    """The app: commit PER_SECOND rows a second under replicating(), logging each commit after it returns."""
    cfg = ConfigS3()
    cfg.folder.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(cfg.dbpath, isolation_level=None, timeout=30)) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        with cfg.replicating(), log.open("a", buffering=1) as commits:
            print("replicating", flush=True)
            number, next_at = 0, time.monotonic()
            while True:
                conn.execute("INSERT INTO items (id, body) VALUES (?, 'committed')", (number,))
                commits.write(f"{number} {time.time():.6f}\n")
                number += 1
                next_at += 1 / PER_SECOND
                time.sleep(max(next_at - time.monotonic(), 0))


if __name__ == "__main__":
    app(Path(sys.argv[1]))
