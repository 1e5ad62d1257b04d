"""The Flask, gunicorn and Django integrations under their real frameworks (the ASGI lifespan: test_asgi.py)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from helpers import derive, free_port, read_rows, require, settings_env, write_rows
from test_recipes import RECIPES, call, serve, terminate

from pylts import ConfigS3, RestoreOutcome, StaleDatabase

pytestmark = pytest.mark.integration
DATA = Path(__file__).resolve().parent / "data"


def notes_restored(cfg: ConfigS3, folder: Path) -> list[str]:
    copy = derive(cfg, folder=folder)
    copy.restore()
    with closing(sqlite3.connect(copy.dbpath)) as conn:
        return [body for (body,) in conn.execute("SELECT body FROM notes ORDER BY id")]


def test_flask_extension_restores_in_the_app_factory(cfg: ConfigS3, tmp_path: Path) -> None:
    require("flask")
    from flask import Flask

    from pylts.integrations.flask import Pylts

    write_rows(cfg.dbpath, 3)
    assert cfg.timed_replicate(30, delete=False)
    fresh = derive(cfg, folder=tmp_path / "fresh")
    app = Flask(__name__)
    app.config["PYLTS"] = {
        "key": fresh.key,
        "token": fresh.token,
        "s3": fresh.s3,
        "endpoint": fresh.endpoint,
        "region": fresh.region,
        "folder": str(fresh.folder),
        "db": fresh.db,
        "litestream_bin": str(fresh.litestream_bin) if fresh.litestream_bin else None,
        "_env_file": None,
    }
    extension = Pylts(app)
    assert app.extensions["pylts"] is extension
    assert extension.boot.value == "restored"
    assert extension.config.dbpath == fresh.dbpath
    assert [row_id for row_id, _ in read_rows(fresh.dbpath)] == [0, 1, 2]
    assert Pylts(Flask("again"), cfg=fresh).boot.value == "existing", "a second app on the same machine"


def test_gunicorn_hooks_replicate_in_the_master(cfg: ConfigS3, tmp_path: Path) -> None:
    require("gunicorn", "flask")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:pylts.integrations.gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "flask_app:create_app()",
    ]
    server = serve(command, cfg, port, RECIPES)
    try:
        call(port, "/notes?body=served", "POST")
    finally:
        err = terminate(server)  # the master stops its workers, then on_exit: the final sync
    assert notes_restored(cfg, tmp_path / "copy") == ["served"], err


def django(cfg: ConfigS3, *args: str, pylts: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = settings_env(cfg, SITE_DATABASE=str(cfg.dbpath), SITE_PYLTS=json.dumps(pylts or {}))
    for name in ("DB_FOLDER", "DB_SQLITE"):  # the path comes from DATABASES, as in a real project
        env.pop(name)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=DATA / "django_site",
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_django_app_restores_before_queries_and_runs_pylts_commands(cfg: ConfigS3) -> None:
    require("django")
    migrated = django(cfg, "pylts", "replicate", "--exec", f"{sys.executable} manage.py migrate --noinput")
    assert migrated.returncode == 0, migrated.stderr
    listed = django(cfg, "pylts", "contents")
    assert listed.returncode == 0 and "latest backup written" in listed.stdout, listed.stderr
    verified = django(cfg, "pylts", "verify", "--sync")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for path in list(cfg.folder.iterdir()):  # a fresh machine: only the backup is left
        if path.is_file():
            path.unlink()
    again = django(cfg, "migrate", "--noinput")
    assert again.returncode == 0, again.stderr
    assert "No migrations to apply" in again.stdout, "ready() restored the migrated database first"


def test_django_settings_that_cannot_work_are_refused_with_the_fix(cfg: ConfigS3) -> None:
    require("django")
    clash = django(cfg, "pylts", "contents", pylts={"folder": "/elsewhere"})
    assert clash.returncode == 2
    assert "folder: comes from DATABASES['default']['NAME']" in clash.stderr
    unknown = django(cfg, "pylts", "contents", pylts={"database": "analytics"})
    assert unknown.returncode == 2 and "DATABASES has no 'analytics'" in unknown.stderr
    assert "Traceback" not in clash.stderr + unknown.stderr
    assert not cfg.dbpath.exists()


def test_django_boot_refusal_stops_the_app_but_not_manage_py_pylts(cfg: ConfigS3, tmp_path: Path) -> None:
    require("django")
    write_rows(cfg.dbpath, 2)
    assert cfg.timed_replicate(30, delete=False)
    foreign = derive(cfg, folder=tmp_path / "foreign")
    write_rows(foreign.dbpath, 1, start=100)  # a database from another history on this machine
    refused = django(foreign, "migrate", "--noinput")
    assert refused.returncode != 0 and "ForeignDatabase" in refused.stderr
    listed = django(foreign, "pylts", "contents")
    assert listed.returncode == 0, "contents still answers on a machine whose boot is refused"
    assert "latest backup written" in listed.stdout


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from pylts import sqlite_files

with sqlite_files.replication_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes it
"""


def test_boot_check_defers_to_a_live_replicator(cfg: ConfigS3, tmp_path: Path) -> None:
    """Django's ready() in a process beside the one that replicates: the replica is ahead of what it reads.

    That is a live database, not a stale one: the check says so and never advises quarantine.
    """
    write_rows(cfg.dbpath, 5)
    assert cfg.timed_replicate(30, delete=False)
    live = derive(cfg, folder=tmp_path / "live")
    shutil.copytree(cfg.folder, live.folder)  # what the other process reads: the replica moves on meanwhile
    write_rows(cfg.dbpath, 5, start=5)
    assert cfg.timed_replicate(30, delete=False)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(live.dbpath)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        report = live.ensure_restored()
    finally:
        holder.communicate()
    assert report.outcome is RestoreOutcome.REPLICATING
    assert len(read_rows(live.dbpath)) == 5, "left alone"
    with pytest.raises(StaleDatabase, match="quarantine"):  # once nobody replicates it, it is stale indeed
        live.ensure_restored()


ORPHAN = """
import os, sys, time
from pylts.integrations.gunicorn import die_with_parent

child = os.fork()
if child == 0:  # a worker, as gunicorn's post_fork hook arms it
    die_with_parent(os.getppid())
    time.sleep(60)
    os._exit(0)
print(child, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_worker_dies_with_its_master_and_one_whose_master_is_gone_does_not_start() -> None:
    master = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, text=True)
    assert master.stdout is not None
    worker = int(master.stdout.readline())
    time.sleep(0.5)  # the worker armed its parent-death signal
    master.kill()
    master.communicate()
    assert wait_gone(worker, 5), "the worker outlived its master"
    late = [
        sys.executable,
        "-c",
        "from pylts.integrations.gunicorn import die_with_parent; die_with_parent(1); print(1)",
    ]
    started = subprocess.run(late, capture_output=True, text=True, timeout=60)
    assert (started.returncode, started.stdout) == (1, ""), "its parent is not 1: it exits before serving anything"


def wait_gone(pid: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.02)
    return False
