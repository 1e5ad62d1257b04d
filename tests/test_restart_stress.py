"""Hundreds of child starts while threads log: starting a child must never hang a threaded pylts.

pylts always has threads (two output readers per child, the supervisor, the app's own). A child
started with Python code between fork and exec (``preexec_fn``) can deadlock on a lock another
thread held at the fork, such as a logging handler's. pylts runs no Python code there; these tests
start and stop children hundreds of times while other threads hold such locks all the time, and
fail if any start, line or stop does not come within its bound.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from pylts import runner
from pylts.binary import find_executable
from pylts.output import OutputLine
from pylts.runner import ManagedProcess

pytestmark = [pytest.mark.slow, pytest.mark.serial]

#: Each test's whole loop must end within this many seconds (it takes 5-20 s here).
BOUND = 60.0
#: A child that printed nothing, or did not stop, within this many seconds is hung.
STEP = 10.0


class _Discard(logging.Handler):
    """Drops records, after taking the handler lock like any real handler."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


@contextmanager
def threads_logging(count: int = 4) -> Iterator[list[int]]:
    """``count`` threads logging through the standard library, as an app's request threads do.

    Each record goes through a handler that takes its lock, as real handlers do: a lock held by
    another thread at the moment of a fork is what a child could deadlock on. Every 50 lines a
    thread sleeps for half a millisecond: a loop that never lets go of the GIL would measure
    Python's thread switching (restarts ran 8 times slower), not pylts.
    """
    stop = threading.Event()
    lines = [0] * count
    stdlib = logging.getLogger("pylts-stress")
    stdlib.addHandler(_Discard())
    stdlib.setLevel(logging.DEBUG)
    stdlib.propagate = False  # its own handler only: pytest need not keep a million lines

    def spam(index: int) -> None:
        while not stop.is_set():
            stdlib.debug("thread %d line %d", index, lines[index])
            lines[index] += 1
            if lines[index] % 50 == 0:
                time.sleep(0.0005)

    pylts_logger = logging.getLogger("pylts")
    pylts_logger.addHandler(handler := _Discard())
    pylts_logger.setLevel(logging.DEBUG)  # every line a child prints is logged from its reader thread too
    threads = [threading.Thread(target=spam, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    try:
        yield lines
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        pylts_logger.removeHandler(handler)
        pylts_logger.setLevel(logging.NOTSET)


def within(bound: float, loop: Callable[[], None]) -> float:
    """Run ``loop`` in a thread; fail if it has not ended after ``bound`` seconds (a hang)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            loop()
        except BaseException as exc:
            errors.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True, name="stress-loop")
    worker.start()
    worker.join(bound)
    assert not worker.is_alive(), f"the restarts did not end within {bound:g} s: a child start or stop hung"
    if errors:
        raise errors[0]
    return time.monotonic() - started


def test_hundreds_of_stand_in_children_while_threads_log() -> None:
    """300 children through ManagedProcess: half exit by themselves, half are stopped with SIGTERM."""
    script = 'i=0; while [ $i -lt 100 ]; do echo "level=DEBUG msg=line-$i"; i=$((i+1)); done; exec sleep 30'
    seen: list[int] = []

    def restarts() -> None:
        for round_number in range(300):
            printed = threading.Event()
            count = [0]

            def on_line(line: OutputLine, count: list[int] = count, printed: threading.Event = printed) -> None:
                count[0] += 1
                if count[0] == 100:
                    printed.set()

            argv = ["sh", "-c", script if round_number % 2 else script.replace("exec sleep 30", "exit 0")]
            with ManagedProcess(argv, env={"PATH": "/usr/bin:/bin"}, on_line=on_line, stop_grace=STEP) as proc:
                assert printed.wait(STEP), f"round {round_number}: the child's lines never came"
                if round_number % 2 == 0:
                    assert proc.wait(STEP) == 0
                else:
                    assert proc.stop() != 0  # sleep ended by SIGTERM
            seen.append(count[0])

    with threads_logging() as logged:
        took = within(BOUND, restarts)
    assert seen == [100] * 300, "every line of every child was read"
    assert min(logged) > 0, "the logging threads ran the whole time"
    assert not runner.guarded()
    print(f"300 children in {took:.1f} s")


def test_litestream_restarted_a_hundred_times_while_threads_log_and_an_app_writes(tmp_path: Path) -> None:
    """The real litestream, replicating to a file replica, stopped with SIGTERM after it began each time."""
    litestream = str(find_executable())
    db, replica = tmp_path / "app.db", tmp_path / "replica"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY)")
    writing = threading.Event()
    writing.set()
    written = [0]

    def app() -> None:
        with closing(sqlite3.connect(db, timeout=10)) as conn:
            while writing.is_set():
                with conn:
                    conn.execute("INSERT INTO items DEFAULT VALUES")
                written[0] += 1
                time.sleep(0.005)

    def restarts() -> None:
        for round_number in range(100):
            replicating = threading.Event()

            def on_line(line: OutputLine, replicating: threading.Event = replicating) -> None:
                if "replicating to" in line.text:
                    replicating.set()

            argv = [litestream, "replicate", "-log-level", "debug", str(db), replica.as_uri()]
            with ManagedProcess(argv, env={"PATH": "/usr/bin:/bin"}, on_line=on_line, stop_grace=STEP) as proc:
                assert replicating.wait(STEP), f"round {round_number}: litestream never said it replicates"
                if round_number % 10 == 0:
                    time.sleep(1.2)  # now and then long enough for a sync of its own
                assert proc.stop() == 0, proc.output("stdout")[-500:]

    writer = threading.Thread(target=app, daemon=True)
    writer.start()
    try:
        with threads_logging():
            took = within(BOUND, restarts)
    finally:
        writing.clear()
        writer.join(timeout=10)
    env = {"PATH": "/usr/bin:/bin"}
    # as Replicator.stop() does on 0.5: a final sync at SIGTERM can miss the last commits; -once brings them
    assert (
        runner.run([litestream, "replicate", "-once", str(db), replica.as_uri()], env=env, timeout=30).returncode == 0
    )
    restored = tmp_path / "restored.db"
    result = runner.run([litestream, "restore", "-o", str(restored), replica.as_uri()], env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    with closing(sqlite3.connect(restored)) as conn:
        held = conn.execute("SELECT count(*) FROM items").fetchone()[0]
    assert held == written[0] > 0, "every commit is in the replica after 100 restarts"
    assert not runner.guarded()
    print(f"100 litestream restarts in {took:.1f} s; {written[0]} commits, the replica holds {held}")
