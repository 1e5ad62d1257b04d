"""Drill 15: a gunicorn master killed (SIGKILL) under load; no worker acknowledges a write litestream never sent.

A real gunicorn (sync workers) serves an app that inserts one row per request and answers
200 once it is committed. Clients hammer it and note every id acknowledged. The gunicorn
master is killed mid-load, either with pylts' hooks in it (``-c python:pylts.integrations.gunicorn``:
pylts' guard must stop the workers before litestream) or under ``pylts replicate --exec``
(pylts must stop the workers left in the app's group before its final sync). Then the
replica is restored and every acknowledged id must be in it. Run on rclone's S3 gateway.
"""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from helpers import derive, free_port, read_rows, record, require, settings_env, waited, write_rows
from test_recipes import wait_for_port

from pylts import ConfigS3

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.serial]

APP = """
import os, sqlite3

DB = os.path.join(os.environ["DB_FOLDER"], os.environ["DB_SQLITE"])


def app(environ, start_response):
    with sqlite3.connect(DB, timeout=30, isolation_level=None) as conn:
        conn.execute("INSERT INTO items (id, body) VALUES (?, 'acknowledged')", (int(environ["QUERY_STRING"]),))
    conn.close()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"committed"]
"""
CLIENTS = 4
LOAD_SECONDS = 3.0
#: Seconds the clients go on after the kill: a worker under load that outlives its master answers all along.
UNDER_LOAD = 10.0


def processes() -> Iterator[tuple[int, int, int, str]]:
    """(pid, parent pid, process group, command line) of every running process (not zombies)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fields[0] not in ("Z", "X"):
            yield int(entry), int(fields[1]), int(fields[2]), command


def workers_of(master: int) -> list[int]:
    """The children of ``master`` in its process group: its workers (not pylts' guard nor litestream)."""
    return [pid for pid, parent, group, _ in processes() if parent == master and group == master]


def alive(pid: int) -> bool:
    return any(found == pid for found, _, _, _ in processes())


def seconds(elapsed: float | None) -> str:
    return f"{elapsed:.2f} s" if elapsed is not None else f"not within {UNDER_LOAD:g} s"


class Hammer:
    """Clients that request ``/?ID`` in a loop and note, for each 200, the id and when the answer came."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.acknowledged: list[tuple[int, float]] = []
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def _run(self) -> None:
        while not self._stop.is_set():
            row = next(self._ids)
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", f"/?{row}")
                if connection.getresponse().status == 200:
                    self.acknowledged.append((row, time.monotonic()))
            except OSError:
                time.sleep(0.01)  # refused or reset: the server is going away
            finally:
                connection.close()

    @contextmanager
    def running(self) -> Iterator[Hammer]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(10)


def gunicorn(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "drill_app:app"]


@pytest.mark.parametrize(
    "s3_server", ["rclone"], indirect=True
)  # data loss is judged on rclone (s3rver lists aborted uploads)
@pytest.mark.parametrize("how", ["hooks", "exec"])
def test_drill_gunicorn_master_killed_under_load(how: str, server_cfg: ConfigS3, tmp_path: Path) -> None:
    """15. The gunicorn master SIGKILLed mid-load: every acknowledged write is in the replica."""
    require("gunicorn")
    cfg = server_cfg
    write_rows(cfg.dbpath, 1)
    site = tmp_path / "site"
    site.mkdir()
    (site / "drill_app.py").write_text(textwrap.dedent(APP))
    port = free_port()
    if how == "hooks":
        command = [*gunicorn(port)[:3], "-c", "python:pylts.integrations.gunicorn", *gunicorn(port)[3:]]
    else:
        command = [sys.executable, "-m", "pylts", "replicate", "--exec", " ".join(gunicorn(port))]
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        command,
        env=settings_env(cfg),
        cwd=site,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for_port(port, server)
        master = server.pid
        if how == "exec":  # the app pylts runs
            master = next(p for p, parent, _, c in processes() if parent == server.pid and "-m gunicorn" in c)
        assert waited(lambda: len(workers_of(master)) == 2, 30) is not None
        workers = workers_of(master)
        litestream = [
            p
            for p, parent, _, c in processes()
            if parent in (server.pid, master) and "litestream" in c and "replicate" in c
        ]
        assert len(litestream) == 1
        with Hammer(port).running() as hammer:
            time.sleep(LOAD_SECONDS)
            os.kill(master, signal.SIGKILL)
            killed_at = time.monotonic()
            gone: dict[str, float] = {}  # seconds from the kill until each was gone, watched together

            def both_gone() -> bool:
                for name, pids in (("workers", workers), ("litestream", litestream)):
                    if name not in gone and not any(alive(pid) for pid in pids):
                        gone[name] = time.monotonic() - killed_at
                return len(gone) == 2

            waited(both_gone, UNDER_LOAD)
            time.sleep(0.5)  # anything still answering would be acknowledged now
        log.flush()
        idle = waited(lambda: not any(alive(p) for p in (*workers, *litestream)), 60)  # once the load stops
        assert idle is not None, (tmp_path / "server.log").read_text()
        server.wait(60)
    finally:
        with closing(log):
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    acknowledged = {row for row, _ in hammer.acknowledged}
    after_kill = sum(1 for _, at in hammer.acknowledged if at > killed_at)
    copy = derive(cfg, folder=tmp_path / "copy")
    copy.restore()
    held = {row for row, _ in read_rows(copy.dbpath)}
    lost = acknowledged - held
    figures = (
        f"{len(acknowledged)} writes acknowledged, {after_kill} of them after the kill; "
        f"workers gone {seconds(gone.get('workers'))} after the kill, litestream {seconds(gone.get('litestream'))}; "
        f"{len(lost)} acknowledged rows missing from the restore"
    )
    print(figures)
    record(f"15. gunicorn master killed (SIGKILL) under load, {how}", cfg, figures)
    assert acknowledged and not lost, figures
