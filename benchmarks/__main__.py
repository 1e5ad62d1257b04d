"""Measure pylts against the bare litestream binary, in one run, on a local S3; print a Markdown report.

    python -m benchmarks            the full run (about 20 minutes); also writes benchmarks/results.md
    python -m benchmarks --quick    a small subset in about two minutes, 45 s of it idle requests (run by the tests)
    python -m benchmarks --only lag one section of the full run (results.md is left alone)

Timings are medians over several runs; ratios compare pylts with the bare binary measured
in the same run, against the same S3 server, on fresh copies of the same database.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pylts import ConfigS3
from pylts.binary import locate
from pylts.testing import LocalS3

from . import targets
from .boot import boot_with_nothing_to_do
from .follower import first_read, follower_lag
from .harness import (
    bare_env,
    fresh_copy,
    machine_facts,
    make_database,
    median,
    percentile,
    s3_server,
    table_row,
    timed,
    writer,
)
from .requests import REQUEST_LOG, idle_requests, secondary_requests
from .rto import recovery_time
from .supervision import supervision_cost

BUCKET = "bench"
LOAD = "INSERT INTO events (body) VALUES (randomblob(200))"  # what the app writes, 100 times a second


@dataclass(frozen=True)
class Plan:
    sizes: dict[int, int]  # MB -> runs
    old_behaviour: bool
    cold_start_runs: int
    lag_seconds: float
    memory_seconds: float
    rto_sizes: dict[int, int]  # MB -> runs
    idle_seconds: float  # the window in which an idle database's requests are counted
    idle_warmup: float  # seconds after start before it opens: past the start's compactions (L2 at 5 minutes)


FULL = Plan(
    sizes={1: 5, 50: 5, 500: 3},
    old_behaviour=True,
    cold_start_runs=15,
    lag_seconds=60,
    memory_seconds=300,
    rto_sizes={10: 3, 1024: 3},
    idle_seconds=600,
    idle_warmup=330,
)
QUICK = Plan(
    sizes={1: 2},
    old_behaviour=False,
    cold_start_runs=3,
    lag_seconds=4,
    memory_seconds=4,
    rto_sizes={10: 1},
    idle_seconds=45,
    idle_warmup=0,
)


def backup_and_restore(s3: LocalS3, plan: Plan, work: Path) -> list[str]:
    litestream = str(locate().path)
    env = bare_env()
    rows = [
        table_row(
            "size",
            "bare `replicate -once`",
            "`timed_replicate(delete=False)`",
            "ratio",
            "`timed_replicate()` (confirms, deletes)",
            "ratio",
            "old 0.0.9 behaviour",
            "bare `restore`",
            "`restore()` (quick check)",
            "ratio",
            "`restore()` (no check)",
            "ratio",
        ),
        table_row(*["---"] * 12),
    ]
    for size, runs in plan.sizes.items():
        s3.reset()
        s3.create_bucket(BUCKET)
        source = make_database(work / f"source-{size}" / "bench.db", size)
        bare: list[float] = []
        ours: list[float] = []
        confirmed: list[float] = []
        for run in range(runs):
            db = fresh_copy(source, work / "run")
            url = s3.config(BUCKET, f"bare-{size}-{run}", folder=db.parent, db=db.name).replica.url()
            bare.append(
                timed(
                    subprocess.run,
                    [litestream, "replicate", "-once", str(db), url],
                    env=env,
                    check=True,
                    capture_output=True,
                )
            )
            db = fresh_copy(source, work / "run")
            cfg = s3.config(BUCKET, f"pylts-{size}-{run}", folder=db.parent, db=db.name)
            ours.append(timed(_check_backup, cfg, delete=False))
            db = fresh_copy(source, work / "run")
            cfg = s3.config(BUCKET, f"confirmed-{size}-{run}", folder=db.parent, db=db.name)
            confirmed.append(timed(_check_backup, cfg, delete=True))
        old = "not run (--quick)"
        if plan.old_behaviour:
            db = fresh_copy(source, work / "run")
            url = s3.config(BUCKET, f"old-{size}", folder=db.parent, db=db.name).replica.url()
            old = f"{timed(_old_timed_replicate, [litestream, 'replicate', str(db), url], env, 10):.2f} s"
        backup = s3.config(BUCKET, f"pylts-{size}-0", folder=work / "restore", db="bench.db")
        bare_restore: list[float] = []
        checked: list[float] = []
        unchecked: list[float] = []
        for _ in range(runs):
            out = fresh_copy(source, work / "restore-bare").with_name("out.db")
            bare_restore.append(
                timed(
                    subprocess.run,
                    [litestream, "restore", "-o", str(out), backup.replica.url()],
                    env=env,
                    check=True,
                    capture_output=True,
                )
            )
            for mode, into in (("quick", checked), ("none", unchecked)):
                fresh_copy(source, work / "restore").unlink()
                into.append(timed(backup.restore, integrity_check=mode))
        b, o, r, c, u = median(bare), median(ours), median(bare_restore), median(checked), median(unchecked)
        rows.append(
            table_row(
                f"{size} MB",
                f"{b:.2f} s",
                f"{o:.2f} s",
                f"**{o / b:.2f}×**",
                f"{median(confirmed):.2f} s",
                f"**{median(confirmed) / b:.2f}×**",
                old,
                f"{r:.2f} s",
                f"{c:.2f} s",
                f"**{c / r:.2f}×**",
                f"{u:.2f} s",
                f"**{u / r:.2f}×**",
            )
        )
        print(rows[-1], flush=True)
    return rows


def _check_backup(cfg: ConfigS3, *, delete: bool) -> None:
    if not cfg.timed_replicate(600, delete=delete):
        raise RuntimeError("timed_replicate returned False")


def _old_timed_replicate(argv: list[str], env: dict[str, str], timeout: float) -> None:
    """What pylts 0.0.9 did: run replicate, wait out the whole timeout, then kill it."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


#: ``pylts --help`` and a ``pylts restore`` with nothing to do, each over the interpreter's own start, in seconds.
START_LIMIT = 0.15


def cold_start(s3: LocalS3, plan: Plan, work: Path) -> list[str]:
    s3.create_bucket(BUCKET)
    env = dict(
        bare_env(), REPLICA_URL=f"s3://{BUCKET}/cold.db", REPLICA_ENDPOINT=s3.endpoint, DB_FOLDER=str(work / "cold")
    )
    py = sys.executable
    pylts = str(Path(py).with_name("pylts"))
    commands = {
        "`python -c pass` (the interpreter alone)": [py, "-c", "pass"],
        "pydantic-settings, a one-field model": [
            py,
            "-c",
            "from pydantic_settings import BaseSettings\nclass S(BaseSettings):\n    x: int = 1\nS()",
        ],
        "`import pylts; pylts.ConfigS3()`": [py, "-c", "import pylts; pylts.ConfigS3()"],
        "`pylts --help`": [pylts, "--help"],
        "`pylts restore --if-missing` (an empty replica: one listing, nothing to restore)": [
            pylts,
            "restore",
            "--if-missing",
        ],
    }
    times = {
        name: median(
            [timed(subprocess.run, argv, env=env, check=True, capture_output=True) for _ in range(plan.cold_start_runs)]
        )
        for name, argv in commands.items()
    }
    reference = times["pydantic-settings, a one-field model"]
    interpreter = times["`python -c pass` (the interpreter alone)"]
    rows = [
        "| command | median | over the interpreter's start | ratio to pydantic-settings |",
        "| --- | --- | --- | --- |",
    ]
    for name, seconds in times.items():
        over = seconds - interpreter
        ratio = f"**{seconds / reference:.2f}×**"
        rows.append(table_row(name, f"{seconds * 1000:.0f} ms", f"{over * 1000:.0f} ms", ratio))
        if name.startswith("`pylts "):
            targets.check(f"{name.split(' (')[0]} start, over the interpreter's", over, START_LIMIT, " s")
    return rows


def replicated_database(s3: LocalS3, work: Path, name: str) -> ConfigS3:
    s3.reset()
    s3.create_bucket(BUCKET)
    cfg = s3.config(BUCKET, name, folder=work / name, db=f"{name}.db")
    cfg.folder.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body BLOB)")
    return cfg


def lag_under_load(s3: LocalS3, plan: Plan, work: Path) -> list[str]:
    """Commit to the replica holding it, seen from outside: restores started one after another find the probe row.

    Each probe's lag is the start of the first restore that holds it, minus its commit (an
    upper bound, within one restore of the truth). pylts' own belief, ``wait_for_sync()``
    returning, is measured alongside for comparison.
    """
    cfg = replicated_database(s3, work, "lag")
    held_after: list[float] = []
    believed_after: list[float] = []
    with cfg.replicating() as replication, writer(cfg.dbpath, LOAD) as written:
        end = time.monotonic() + plan.lag_seconds
        started = time.monotonic()
        probe = 0
        while time.monotonic() < end:
            probe += 1
            with contextlib.closing(sqlite3.connect(cfg.dbpath, timeout=10)) as conn, conn:
                conn.execute("INSERT INTO events (body) VALUES (?)", (f"probe {probe}",))
            committed = time.monotonic()
            with ThreadPoolExecutor(1) as outside:
                seen = outside.submit(_first_restore_holding, cfg, f"probe {probe}", work / "lag-restores", 60)
                if replication.wait_for_sync(30):
                    believed_after.append(time.monotonic() - committed)
                held_after.append(seen.result() - committed)
        rate = len(written) / (time.monotonic() - started)
    gap = percentile(believed_after, 0.99) - percentile(held_after, 0.99)
    targets.check("`wait_for_sync()` p99 after the replica's own p99", gap, BELIEF_LIMIT, " s")
    return [
        "| writer | probes | measured by | p50 | p99 | max |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            table_row(
                f"{rate:.0f} transactions/s for {plan.lag_seconds:g} s",
                len(lags),
                how,
                f"{percentile(lags, 0.5):.2f} s",
                f"**{percentile(lags, 0.99):.2f} s**",
                f"{max(lags, default=float('nan')):.2f} s",
            )
            for how, lags in (
                ("a restore holds the probe (from outside)", held_after),
                ("`wait_for_sync()` returns (pylts' belief)", believed_after),
            )
        ),
    ]


#: How much later than the replica's own truth (p99) pylts' belief may say a commit is there, in seconds.
BELIEF_LIMIT = 0.25


def _first_restore_holding(cfg: ConfigS3, body: str, folder: Path, timeout: float) -> float:
    """When (monotonic) the first of back-to-back bare ``litestream restore`` runs that holds ``body`` started."""
    litestream = str(locate().path)
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        shutil.rmtree(folder, ignore_errors=True)
        out = folder / "lag.db"
        started = time.monotonic()
        restored = subprocess.run(
            [litestream, "restore", "-o", str(out), cfg.replica.url()], env=bare_env(), capture_output=True
        )
        if restored.returncode == 0:
            with contextlib.closing(sqlite3.connect(f"file:{out}?mode=ro", uri=True)) as conn:
                if conn.execute("SELECT 1 FROM events WHERE body = ?", (body,)).fetchone():
                    return started
    raise RuntimeError(f"no restore held {body!r} within {timeout:g} s")


def rto(s3: LocalS3, plan: Plan, work: Path) -> list[str]:
    s3.reset()
    s3.create_bucket(BUCKET)
    return recovery_time(s3, BUCKET, plan.rto_sizes, work)


Section = Callable[[LocalS3, Plan, Path], list[str]]
#: The report's sections in order, by the name ``--only`` takes: a title and what prints its table.
SECTIONS: dict[str, tuple[str, Section]] = {
    "backup": ("One-shot backup and restore (medians)", backup_and_restore),
    "cold-start": ("Cold start (medians)", cold_start),
    "boot": (
        "Boot with nothing to do: a current local copy (medians)",
        lambda s3, plan, work: boot_with_nothing_to_do(s3, plan.cold_start_runs, work),
    ),
    "lag": ("Replication lag under load (commit to the replica holding it)", lag_under_load),
    "rto": ("Restore and recovery time: a fresh machine gets the replica (medians)", rto),
    "supervision": (
        "Supervision cost: CPU and memory against bare litestream, under load for {memory_seconds:g} s",
        lambda s3, plan, work: supervision_cost(s3, plan.memory_seconds, work),
    ),
    "follower": (
        "Follower lag behind the writer (age of the newest row a reader sees)",
        lambda s3, plan, work: follower_lag(s3, plan.lag_seconds, work),
    ),
    "first-read": (
        "First read: through the VFS vs a restore (medians)",
        lambda s3, plan, work: first_read(s3, plan.sizes, work),
    ),
    "requests": (
        "Requests and cost: an idle database, {idle_seconds:g} s from {idle_warmup:g} s after start",
        lambda s3, plan, work: idle_requests(s3, plan.idle_seconds, work, warmup=plan.idle_warmup),
    ),
    "secondary": (
        "Requests and cost: snapshots to a second destination",
        lambda s3, plan, work: secondary_requests(s3, work),
    ),
}


def _waits(name: str, plan: Plan) -> bool:
    """Whether a section mostly waits (the idle requests, past the start's compactions), so others run meanwhile."""
    return name == "requests" and plan.idle_warmup > 0


def _own_server(name: str, plan: Plan, work: Path) -> list[str]:
    """Run section ``name`` against an S3 server of its own, logging its requests in ``work``."""
    work.mkdir()
    with s3_server(work / REQUEST_LOG) as (s3, _):
        return SECTIONS[name][1](s3, plan, work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small subset, in about two minutes")
    parser.add_argument(
        "--output", type=Path, help="also write the report here (the full run defaults to benchmarks/results.md)"
    )
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this section (repeatable)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    whole = not args.quick and not args.only
    output = args.output or (Path(__file__).parent / "results.md" if whole else None)
    command = "python3 tasks.py bench" + (" --quick" if args.quick else "")
    command += "".join(f" --only {name}" for name in args.only or ())
    report = [f"Command: `{command}` ({time.strftime('%Y-%m-%d')})", ""]
    report += [f"- {fact}" for fact in machine_facts(str(locate().version))] + [""]
    names = list(args.only or SECTIONS)
    with (
        tempfile.TemporaryDirectory(prefix="pylts-bench-") as folder,
        s3_server(Path(folder) / REQUEST_LOG) as (s3, _),
        ThreadPoolExecutor(1) as aside,
    ):
        work = Path(folder)
        # Waiting sections run beside the others, on a server of their own (the others reset theirs).
        waiting = {name: aside.submit(_own_server, name, plan, work / name) for name in names if _waits(name, plan)}
        for name in names:
            title = SECTIONS[name][0].format(
                memory_seconds=plan.memory_seconds, idle_seconds=plan.idle_seconds, idle_warmup=plan.idle_warmup
            )
            print(f"## {title}", flush=True)
            found = waiting[name].result() if name in waiting else SECTIONS[name][1](s3, plan, work)
            report += [f"### {title}", "", *found, ""]
    report += ["### Targets", "", *(targets.rows() or ["No section run checks a target."]), ""]
    text = "\n".join(report)
    print(text)
    if output:
        output.write_text(text)
    return 0


sys.exit(main())
