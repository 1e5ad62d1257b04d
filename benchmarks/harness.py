"""What the benchmarks stand on: an S3 server in its own process, sample databases, timing and statistics."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pylts.testing import ACCESS_KEY, SECRET_KEY, LocalS3


@contextlib.contextmanager
def s3_server(log: Path | None = None) -> Iterator[tuple[LocalS3, subprocess.Popen[str]]]:
    """moto in a process of its own: its work does not count against the Python side, and it can be killed.

    Yields a ``LocalS3`` client (its methods speak HTTP to that process) and the process. With
    ``log``, the server writes each request it answers to that file (`benchmarks.requests`).
    """
    code = (
        "import sys; from pylts.testing import LocalS3; s = LocalS3().start(); "
        "print(s.port, flush=True); sys.stdin.read()"
    )
    argv = [sys.executable, "-m", "benchmarks.requests", str(log)] if log else [sys.executable, "-c", code]
    server = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent
    )
    try:
        assert server.stdout is not None
        yield LocalS3(port=int(server.stdout.readline())), server
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()


def bare_env() -> dict[str, str]:
    """The environment the bare litestream runs with: the same credentials pylts hands it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        LITESTREAM_ACCESS_KEY_ID=ACCESS_KEY, LITESTREAM_SECRET_ACCESS_KEY=SECRET_KEY, AWS_EC2_METADATA_DISABLED="true"
    )
    return env


def make_database(path: Path, megabytes: int) -> Path:
    """A database of about ``megabytes`` MB of incompressible rows, checkpointed into one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = megabytes * 1024
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
            "INSERT INTO blobs (body) SELECT randomblob(1000) FROM n",
            (rows,),
        )
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def fresh_copy(source: Path, folder: Path) -> Path:
    """A copy of ``source`` in an empty ``folder`` (no litestream metadata beside it)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Path(shutil.copy2(source, folder / source.name))


@contextlib.contextmanager
def writer(db: Path, statement: str, per_second: float = 100) -> Iterator[list[int]]:
    """A thread committing ``statement`` ``per_second`` times a second, each its own transaction.

    A ``?`` in the statement gets a running number (from 100000); yields the numbers committed so far.
    """
    committed: list[int] = []
    stop = threading.Event()

    def write() -> None:
        with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
            next_at, number = time.monotonic(), 100_000
            while not stop.is_set():
                conn.execute(statement, (number,) if "?" in statement else ())
                committed.append(number)
                number += 1
                next_at += 1 / per_second
                time.sleep(max(next_at - time.monotonic(), 0))

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield committed
    finally:
        stop.set()
        thread.join()


def table_row(*cells: object) -> str:
    """One row of a markdown table.

    >>> table_row("size", "1 MB", 2.5)
    '| size | 1 MB | 2.5 |'
    """
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def timed(action: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    """Seconds taken by ``action(*args, **kwargs)`` (arguments bound now, not when a loop moves on)."""
    started = time.perf_counter()
    action(*args, **kwargs)
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process (this one by default), in MB."""
    status = Path(f"/proc/{pid or 'self'}/status").read_text()
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return kb / 1024


def machine_facts(litestream: str) -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    memory = next(
        line.split(":", 1)[1].strip()
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    import moto

    return [
        f"CPU: {cpu} ({os.cpu_count()} cores); memory: {memory}",
        f"Python {platform.python_version()} on {platform.system()} {platform.release()}",
        f"litestream {litestream}; moto {moto.__version__} (S3 server in its own process on 127.0.0.1)",
    ]
