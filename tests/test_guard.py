"""When pylts dies, even by SIGKILL, the app is gone before litestream's final sync starts.

The first tests kill a Python process that started two small children through the runner, an
"app" and a stand-in for litestream, which record when they got SIGTERM. The integration tests
kill a real ``pylts replicate --exec`` running a writer that, like a web server finishing its
keep-alive requests, keeps committing for a while after SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import read_rows, settings_env, wait_until

from pylts import ConfigS3, guard
from pylts.runner import ManagedProcess
from pylts.testing import LocalS3

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


def acknowledged(path: Path) -> list[int]:
    """The ids the writer committed and acknowledged (complete lines only)."""
    if not path.exists():
        return []
    return [int(line) for line in re.findall(r"(\d+)\n", path.read_text())]


def restored_rows(local_s3: LocalS3, bucket: str, cfg: ConfigS3, folder: Path) -> list[tuple[int, str]]:
    """The rows of the replica of ``cfg``, restored into ``folder`` by new settings."""
    copy = local_s3.config(bucket, cfg.db, db=cfg.db, folder=folder, litestream_bin=cfg.litestream_bin)
    copy.restore()
    return read_rows(copy.dbpath)


def sigkill(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path, *, done: Callable[[], bool] | None = None
) -> tuple[float, list[int]]:
    """Once ``ready()``, SIGKILL ``process`` alone; return when (``time.time()``) and which children it had.

    Returns once ``done()`` holds, by default once every child is gone; fails after a bounded wait.
    Whatever happens, nothing it started is left running.
    """
    children: list[int] = []
    try:
        assert wait_until(lambda: ready() or process.poll() is not None, 60) and process.poll() is None, log.read_text()
        children = children_of(process.pid)
        killed_at = time.time()
        process.kill()
        process.wait(timeout=10)
        finished = done or (lambda: all(is_gone(pid) for pid in children))
        assert wait_until(finished, 60), f"still running after the kill: {[p for p in children if not is_gone(p)]}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in children:
            if not is_gone(pid):
                os.kill(pid, signal.SIGKILL)
    return killed_at, children


def kill_pylts_under_load(cfg: ConfigS3, tmp_path: Path) -> tuple[list[int], list[int]]:
    """Run ``pylts replicate --exec WRITER``, SIGKILL pylts once writes flow; return (acked ids, pylts' children)."""
    writer, acked, log = tmp_path / "writer.py", tmp_path / "acked.txt", tmp_path / "pylts.log"
    writer.write_text(WRITER)
    command = shlex.join([sys.executable, str(writer), str(cfg.dbpath), str(acked), str(LINGER)])
    argv = [sys.executable, "-m", "pylts", "replicate", "--exec", command]
    with open(log, "wb") as out:
        pylts = subprocess.Popen(argv, env=settings_env(cfg), stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    _, children = sigkill(pylts, lambda: len(acknowledged(acked)) >= 300, log)
    return acknowledged(acked), children


APP = textwrap.dedent(
    """
    import os, signal, sys, time
    folder, linger = sys.argv[1], float(sys.argv[2])
    log = open(os.path.join(folder, "app.log"), "a", buffering=1)
    def on_sigterm(signum, frame):
        log.write(f"term {time.time()}\\n")
        if linger >= 0:  # else: ignore it, like a stuck app
            time.sleep(linger)
            log.write(f"exit {time.time()}\\n")
            os._exit(0)
    signal.signal(signal.SIGTERM, on_sigterm)
    log.write("started\\n")
    while True:
        time.sleep(1)
    """
)

LITESTREAM = textwrap.dedent(
    """
    import os, signal, sys, time
    log = open(os.path.join(sys.argv[1], "litestream.log"), "a", buffering=1)
    lines = 0
    def on_sigterm(signum, frame):
        log.write(f"term {time.time()} {lines}\\n")
        os._exit(0)
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # like Go: a write to a pipe nobody reads kills it
    log.write("started\\n")
    while True:  # about 1 MB/s of log lines, as litestream logging at debug level under load
        print("x" * 1000, flush=True)
        lines += 1
        if lines % 20 == 0:
            log.write(f"at {time.time()} {lines}\\n")
        time.sleep(0.001)
    """
)

PARENT = textwrap.dedent(
    """
    import os, sys, time
    from pylts.runner import ManagedProcess
    folder, linger, grace = sys.argv[1], sys.argv[2], float(sys.argv[3])
    app = [sys.executable, "-c", sys.argv[4], folder, linger]
    ManagedProcess(app, env=os.environ, capture=False, stop_grace=grace, role="app").start()
    ManagedProcess([sys.executable, "-c", sys.argv[5], folder], env=os.environ, stop_grace=10).start()
    time.sleep(120)
    """
)


def log_lines(folder: Path, name: str) -> list[list[str]]:
    path = folder / f"{name}.log"
    return [line.split() for line in path.read_text().splitlines()] if path.exists() else []


def first(lines: list[list[str]], word: str) -> list[str]:
    """The first line starting with ``word``; fails the test if there is none."""
    found = [line for line in lines if line[0] == word]
    assert found, f"no {word!r} line in {lines[-5:]}"
    return found[0]


def kill_parent(folder: Path, linger: float, grace: float) -> float:
    """Start PARENT with the app and litestream stand-ins, SIGKILL it; return when (time.time()) it was killed."""
    with open(folder / "parent.log", "wb") as out:
        argv = [sys.executable, "-c", PARENT, str(folder), str(linger), str(grace), APP, LITESTREAM]
        parent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    started = ("app", "litestream")

    def ready() -> bool:
        return all(["started"] in log_lines(folder, name) for name in started)

    killed_at, children = sigkill(parent, ready, folder / "parent.log")
    assert len(children) >= 2, f"expected the app and the litestream stand-in (and the guard): {children}"
    return killed_at


def test_the_app_is_gone_before_litestream_gets_sigterm(tmp_path: Path) -> None:
    killed_at = kill_parent(tmp_path, linger=1.0, grace=30)
    app, litestream = log_lines(tmp_path, "app"), log_lines(tmp_path, "litestream")
    app_exit, litestream_term = float(first(app, "exit")[1]), float(first(litestream, "term")[1])
    assert killed_at < float(first(app, "term")[1]) < app_exit <= litestream_term


def test_litestream_output_is_drained_once_pylts_is_gone(tmp_path: Path) -> None:
    killed_at = kill_parent(tmp_path, linger=1.0, grace=30)
    litestream = log_lines(tmp_path, "litestream")
    at_kill = max([int(line[2]) for line in litestream if line[0] == "at" and float(line[1]) <= killed_at] or [0])
    at_term = int(first(litestream, "term")[2])
    assert at_term - at_kill > 130, "the stand-in wrote less than twice a pipe's buffer (64 KiB) after pylts was killed"


def test_an_app_ignoring_sigterm_is_killed_after_its_grace_then_litestream_stops(tmp_path: Path) -> None:
    killed_at = kill_parent(tmp_path, linger=-1, grace=1.0)
    app, litestream = log_lines(tmp_path, "app"), log_lines(tmp_path, "litestream")
    assert first(app, "term") and not [line for line in app if line[0] == "exit"]
    assert float(first(litestream, "term")[1]) - killed_at >= 1.0
    assert "app group" in (tmp_path / "parent.log").read_text()


FORKING_PARENT = textwrap.dedent(
    """
    import os, sys, time
    from pylts.runner import ManagedProcess
    folder = sys.argv[1]
    ManagedProcess([sys.executable, "-c", sys.argv[2], folder, "0"], env=os.environ, capture=False, role="app").start()
    if os.fork() == 0:  # a forked copy of this process (a worker, say) outlives it
        time.sleep(60)
        os._exit(0)
    time.sleep(120)
    """
)


def test_a_forked_copy_of_pylts_does_not_keep_the_guard_waiting(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", FORKING_PARENT, str(tmp_path), APP]
    with open(tmp_path / "parent.log", "wb") as out:
        parent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    sigkill(
        parent,
        lambda: ["started"] in log_lines(tmp_path, "app") and len(children_of(parent.pid)) == 3,  # app, guard, fork
        tmp_path / "parent.log",
        done=lambda: ["exit"] in [line[:1] for line in log_lines(tmp_path, "app")],
    )


WORKER_PARENT = textwrap.dedent(
    """
    import os, sys, time
    from pylts.runner import ManagedProcess, guard_next_fork
    folder, linger = sys.argv[1], sys.argv[2]
    ManagedProcess([sys.executable, "-c", sys.argv[4], folder], env=os.environ, stop_grace=10).start()
    guard_next_fork(30)  # as gunicorn's pre_fork hook does
    if os.fork() == 0:  # a worker that commits as the app does, in this process's group
        os.execv(sys.executable, [sys.executable, "-c", sys.argv[3], folder, linger])
    time.sleep(120)
    """
)


def test_a_worker_forked_after_guard_next_fork_is_gone_before_litestream_gets_sigterm(tmp_path: Path) -> None:
    """gunicorn with pylts' hooks: the master (pylts) is killed; its worker stops before litestream's final sync."""
    argv = [sys.executable, "-c", WORKER_PARENT, str(tmp_path), "1.0", APP, LITESTREAM]
    with open(tmp_path / "parent.log", "wb") as out:
        parent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    killed_at, _ = sigkill(
        parent,
        lambda: all(["started"] in log_lines(tmp_path, name) for name in ("app", "litestream")),
        tmp_path / "parent.log",
    )
    app, litestream = log_lines(tmp_path, "app"), log_lines(tmp_path, "litestream")
    app_exit, litestream_term = float(first(app, "exit")[1]), float(first(litestream, "term")[1])
    assert killed_at < float(first(app, "term")[1]) < app_exit <= litestream_term
    assert "app process" in (tmp_path / "parent.log").read_text()


def test_the_guard_signals_a_process_only_while_its_pid_is_the_one_that_told_it() -> None:
    me = os.getpid()
    assert guard.process_alive(me, guard.process_start(me))
    assert not guard.process_alive(me, "0"), "a reused pid (another start time) is someone else"


@pytest.mark.integration
@pytest.mark.parametrize("run", range(5))
def test_kill_9_of_pylts_keeps_every_acknowledged_write(
    run: int, cfg: ConfigS3, local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    acked, children = kill_pylts_under_load(cfg, tmp_path)
    assert len(children) >= 2, "pylts should have run litestream and the writer"
    kept = {row[0] for row in restored_rows(local_s3, bucket, cfg, tmp_path / "restored")}
    missing = sorted(set(acked) - kept)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes are not in the replica: {missing[:10]} ..."


LIBRARY_APP = textwrap.dedent(
    """
    import sqlite3, time
    from pylts import ConfigS3
    cfg = ConfigS3(_env_file=None)
    with cfg.replicating():
        conn = sqlite3.connect(cfg.dbpath)
        with conn:
            conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            conn.executemany("INSERT INTO items VALUES (?, 'before the kill')", [(i,) for i in range(100)])
        print("committed", flush=True)
        time.sleep(120)
    """
)


@pytest.mark.integration
def test_kill_9_of_a_python_app_replicating_leaves_no_litestream_and_makes_the_final_sync(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    log = tmp_path / "app.log"
    with open(log, "wb") as out:
        app = subprocess.Popen([sys.executable, "-c", LIBRARY_APP], env=settings_env(cfg), stdout=out, stderr=out)
    sigkill(app, lambda: "committed" in log.read_text(), log)
    assert len(restored_rows(local_s3, bucket, cfg, tmp_path / "restored")) == 100


def test_what_an_apps_leader_leaves_in_its_group_is_stopped_before_the_app_counts_as_gone() -> None:
    """A gunicorn master killed under ``pylts replicate --exec``: its workers must not live on into the final sync."""
    leaves_a_worker = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])"
    app = ManagedProcess([sys.executable, "-c", leaves_a_worker], env=os.environ, capture=False, role="app")
    app.start()
    assert app.pid is not None
    try:
        assert app.wait(30) == 0
        assert not guard.group_alive(app.pid), "a process of the app's group still runs"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(app.pid, signal.SIGKILL)
