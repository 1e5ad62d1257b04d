"""What supervising costs: CPU and memory of a `Replicator` against a bare ``litestream replicate``, under load.

Both replicate a database of their own to the same S3 server, side by side, while one writer
commits 100 transactions a second to each. The `Replicator` runs in a Python process of its own
(it does nothing else), so its CPU time and memory are read from ``/proc`` exactly like the bare
binary's: pylts' cost is that process plus the litestream it supervises.

    python -m benchmarks.supervision --seconds 600
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pylts.binary import locate
from pylts.testing import LocalS3

from .harness import bare_env, median, rss_mb, s3_server, table_row, writer
from .targets import check

BUCKET = "supervision"
LOAD = "INSERT INTO events (body) VALUES (randomblob(200))"
_TICKS = 100  # clock ticks per second in /proc/PID/stat (USER_HZ, 100 on Linux)
#: Supervision against the bare binary under 100 transactions/s, held to these over a run of at least 5 minutes.
CPU_LIMIT, MEMORY_LIMIT, TARGET_SECONDS = 1.1, 1.5, 300


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a running process has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


@dataclass
class Sampled:
    """One process watched over the run: CPU seconds at start and end, memory once a second."""

    pid: int
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    rss: list[float] = field(default_factory=list)

    @property
    def cpu(self) -> float:
        return self.cpu_end - self.cpu_start


def empty_database(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body BLOB)")
    return path


@contextlib.contextmanager
def bare_litestream(s3: LocalS3, db: Path, bucket: str = BUCKET) -> Iterator[subprocess.Popen[bytes]]:
    """``litestream replicate DB URL`` as a user would run it, at litestream's default log level."""
    url = s3.config(bucket, "bare.db", folder=db.parent, db=db.name).replica.url()
    proc = subprocess.Popen(
        [str(locate().path), "replicate", str(db), url],
        env=bare_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def supervised(s3: LocalS3, db: Path, bucket: str = BUCKET, **settings: str) -> Iterator[tuple[int, int]]:
    """A `Replicator` for ``db`` in a Python process of its own; yields its pid and its litestream's pid.

    ``settings``: more `ConfigS3` settings (``cost_profile="low"``).
    """
    # The settings `LocalS3.config` gives, without a `LocalS3`: it imports moto (and boto3), 24 MB no user carries.
    code = (
        "import sys; from pylts import ConfigS3, Replicator; from pylts.testing import ACCESS_KEY, SECRET_KEY\n"
        f"cfg = ConfigS3(_env_file=None, key=ACCESS_KEY, token=SECRET_KEY, s3={f's3://{bucket}/pylts.db'!r}, "
        f"endpoint={s3.endpoint!r}, region='us-east-1', folder={str(db.parent)!r}, db={db.name!r}, **{settings!r})\n"
        "with Replicator([cfg]) as replication:\n"
        "    print(replication.status().pid, flush=True)\n"
        "    sys.stdin.read()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.pid, int(proc.stdout.readline())
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def supervision_cost(s3: LocalS3, seconds: float, work: Path) -> list[str]:
    s3.create_bucket(BUCKET)
    bare_db = empty_database(work / "bare" / "bare.db")
    ours_db = empty_database(work / "pylts" / "pylts.db")
    with (
        bare_litestream(s3, bare_db) as bare,
        supervised(s3, ours_db) as (python_pid, child_pid),
        writer(bare_db, LOAD) as bare_rows,
        writer(ours_db, LOAD) as our_rows,
    ):
        watched = {
            name: Sampled(pid) for name, pid in (("bare", bare.pid), ("python", python_pid), ("child", child_pid))
        }
        for sample in watched.values():
            sample.cpu_start = cpu_seconds(sample.pid)
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            for sample in watched.values():
                sample.rss.append(rss_mb(sample.pid))
            time.sleep(1)
        for sample in watched.values():
            sample.cpu_end = cpu_seconds(sample.pid)
        elapsed = time.monotonic() - started
        rates = len(bare_rows) / elapsed, len(our_rows) / elapsed
    bare_s, python, child = watched["bare"], watched["python"], watched["child"]
    ours_cpu = python.cpu + child.cpu
    ours_peak = max(p + c for p, c in zip(python.rss, child.rss, strict=False))
    half = max(len(python.rss) // 2, 1)

    if elapsed >= TARGET_SECONDS:
        check("supervision CPU (litestream and pylts' Python), against bare", ours_cpu / bare_s.cpu, CPU_LIMIT, "×")
        check("supervision peak memory (both), against bare", ours_peak / max(bare_s.rss), MEMORY_LIMIT, "×")

    def share(cpu: float) -> str:
        return f"{100 * cpu / elapsed:.2f} %"

    def growth(rss: list[float]) -> str:
        return f"{median(rss[half:]) - median(rss[:half]):+.1f} MB"

    return [
        f"Writers: {rates[0]:.0f} and {rates[1]:.0f} transactions/s for {elapsed:.0f} s, "
        f"litestream {locate().version}.",
        "",
        "| process | CPU (share of one core) | peak memory | memory growth, second half vs first |",
        "| --- | --- | --- | --- |",
        table_row("bare `litestream replicate`", share(bare_s.cpu), f"{max(bare_s.rss):.1f} MB", growth(bare_s.rss)),
        table_row("litestream under pylts", share(child.cpu), f"{max(child.rss):.1f} MB", growth(child.rss)),
        table_row("pylts' Python process", share(python.cpu), f"{max(python.rss):.1f} MB", growth(python.rss)),
        table_row(
            "**pylts in all, against bare**",
            f"{share(ours_cpu)}, {ratio(ours_cpu, bare_s.cpu)}",
            f"{ours_peak:.1f} MB, {ratio(ours_peak, max(bare_s.rss))}",
            "",
        ),
    ]


def ratio(ours: float, bare: float) -> str:
    """``ours`` as a multiple of ``bare``, bold; a short run may leave the bare binary no measurable CPU.

    >>> ratio(3.0, 2.0), ratio(1.0, 0.0)
    ('**1.50×**', 'n/a (bare: 0)')
    """
    return f"**{ours / bare:.2f}×**" if bare else "n/a (bare: 0)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.supervision", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600, help="how long to measure (default 600)")
    args = parser.parse_args(argv)
    with s3_server() as (s3, _), tempfile.TemporaryDirectory(prefix="pylts-bench-") as folder:
        print("\n".join(supervision_cost(s3, args.seconds, Path(folder))))


if __name__ == "__main__":
    main()
