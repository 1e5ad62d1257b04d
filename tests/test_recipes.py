"""The recipes in the docs are real files; each runs here against moto, with the real litestream."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from helpers import derive, free_port, require, settings_env

from pylts import ConfigS3

pytestmark = pytest.mark.integration
RECIPES = Path(__file__).resolve().parent.parent / "examples" / "recipes"


def notes_in_backup(cfg: ConfigS3, folder: Path) -> list[str]:
    copy = derive(cfg, folder=folder)
    copy.restore()
    with closing(sqlite3.connect(copy.dbpath)) as conn:
        return [body for (body,) in conn.execute("SELECT body FROM notes ORDER BY id")]


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, "the server exited early"
        with closing(socket.socket()) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listened on {port}")


def serve(argv: list[str], cfg: ConfigS3, port: int, cwd: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        argv, env=settings_env(cfg), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port(port, proc)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc


def call(port: int, path: str, method: str = "GET") -> str:
    with urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method), timeout=10
    ) as response:
        assert response.status == 200
        body: bytes = response.read()
        return body.decode()


def terminate(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, as a process manager would; returns what the process printed on stderr."""
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode in (0, -signal.SIGTERM), err  # uvicorn re-raises the signal once shut down
    return err


def test_fastapi_lifespan_under_uvicorn(cfg: ConfigS3, tmp_path: Path) -> None:
    require("fastapi", "uvicorn")
    port = free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "fastapi_app:app"]
    server = serve(uvicorn, cfg, port, RECIPES)
    call(port, "/notes?body=first", "POST")
    terminate(server)  # lifespan shutdown: litestream's final sync
    assert notes_in_backup(cfg, tmp_path / "copy") == ["first"]
    for path in cfg.folder.iterdir():  # a fresh machine: only the backup is left
        path.unlink() if path.is_file() else None
    server = serve(uvicorn, cfg, port, RECIPES)
    assert call(port, "/notes") == '["first"]'
    terminate(server)


def test_gunicorn_under_replication(cfg: ConfigS3, tmp_path: Path) -> None:
    require("gunicorn", "flask")
    port = free_port()
    command = f"{sys.executable} -m gunicorn --bind 127.0.0.1:{port} --workers 2 'flask_app:create_app()'"
    proc = serve([sys.executable, "-m", "pylts", "replicate", "--exec", command], cfg, port, RECIPES)
    call(port, "/notes?body=served", "POST")
    terminate(proc)  # passed on to gunicorn, then litestream's final sync
    assert notes_in_backup(cfg, tmp_path / "copy") == ["served"]


def manage(cfg: ConfigS3, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py ARGS`` of the recipe site, its data in ``cfg.folder`` and its replica at ``cfg.s3``."""
    env = settings_env(cfg, SITE_DATA=str(cfg.folder), SITE_REPLICA_URL=cfg.s3)
    for name in ("DB_FOLDER", "DB_SQLITE", "REPLICA_URL"):  # the site says these itself, as a real project does
        env.pop(name)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env,
        cwd=RECIPES / "django_site",
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_django_migrates_both_databases_under_replication_then_restores_both_at_startup(cfg: ConfigS3) -> None:
    require("django")
    for database in ("default", "queue"):
        migrate = f"{sys.executable} manage.py migrate --noinput --database {database}"
        migrated = manage(cfg, "pylts", "replicate", "--exec", migrate)
        assert migrated.returncode == 0, migrated.stderr
    for path in list(cfg.folder.iterdir()):  # a fresh machine: only the backups are left
        path.unlink() if path.is_file() else None
    for database in ("default", "queue"):
        again = manage(cfg, "migrate", "--noinput", "--database", database)
        assert again.returncode == 0, again.stderr
        assert "No migrations to apply" in again.stdout, f"ready() restored the migrated {database} database first"
    assert sorted(p.name for p in cfg.folder.glob("*.sqlite3")) == ["db.sqlite3", "queue.sqlite3"]


def test_batch_job_runs_twice_on_throwaway_machines(cfg: ConfigS3, tmp_path: Path) -> None:
    env = settings_env(cfg)
    first = subprocess.run(
        [sys.executable, str(RECIPES / "batch_job.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert first.returncode == 0, first.stderr
    assert (
        "database: fresh" in first.stdout and "run number 1" in first.stdout and "backup verified: ok" in first.stdout
    )
    assert not cfg.dbpath.exists(), "the job deleted its local copy after the confirmed backup"
    second = subprocess.run(
        [sys.executable, str(RECIPES / "batch_job.py")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert second.returncode == 0, second.stderr
    assert "database: restored" in second.stdout and "run number 2" in second.stdout
