"""The progress line of restores and one-shot backups: shown on a terminal, silent elsewhere and under --quiet."""

from __future__ import annotations

import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from helpers import settings_env, write_rows

from benchmarks.harness import make_database
from pylts import ConfigS3
from pylts.progress import Progress, database_bytes, staged_bytes
from pylts.testing import LocalS3

#: One refresh of the line: back to its start, erase it, then what was written so far and the time taken.
LINE = re.compile(r"\r\x1b\[K(restoring|backing up) app\.db: (\d+\.\d) MB written, (\d+\.\d) s")


def on_terminal(*args: str, env: dict[str, str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    """Run ``pylts ARGS`` with stderr on a pseudo-terminal; return the result and what the terminal got."""
    controller, terminal = os.openpty()
    shown: list[bytes] = []

    def read() -> None:
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every holder of the terminal side closed it
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read)
    try:
        with subprocess.Popen(
            [sys.executable, "-m", "pylts", *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=terminal, text=True
        ) as process:
            os.close(terminal)
            terminal = -1
            reader.start()
            out, _ = process.communicate(timeout=180)
        reader.join(10)
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    return subprocess.CompletedProcess(process.args, process.returncode, out, ""), b"".join(shown).decode()


def erased_then_said(shown: str) -> bool:
    """Whether the last refresh of the line was erased, and only pylts' own lines (each whole) came after it."""
    rest = shown[max((match.end() for match in LINE.finditer(shown)), default=0) :]
    lines = rest.replace("\r\x1b[K", "").replace("\r\n", "\n").splitlines()
    return rest.startswith("\r\x1b[K") and all(line.startswith("pylts: ") for line in lines)


def progress(shown: str, verb: str) -> list[float]:
    """The megabytes of each refresh of the ``verb`` line."""
    return [float(match.group(2)) for match in LINE.finditer(shown) if match.group(1) == verb]


@pytest.fixture
def big(local_s3: LocalS3, bucket: str, tmp_path: Path) -> ConfigS3:
    """A 100 MB database (litestream 0.5: the restore takes over a second on moto)."""
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data")
    make_database(cfg.dbpath, 100)
    return cfg


@pytest.mark.integration
def test_a_terminal_sees_bytes_and_time_of_a_backup_and_a_restore(big: ConfigS3, tmp_path: Path) -> None:
    env = settings_env(big)
    backed_up, shown = on_terminal("replicate", "--once", env=env, cwd=tmp_path)
    assert backed_up.returncode == 0 and backed_up.stdout == f"backed up {big.dbpath} to {big.s3}\n", shown
    assert progress(shown, "backing up") and all(mb > 100 for mb in progress(shown, "backing up")), shown
    assert erased_then_said(shown), "the line is erased at the end: what follows stands alone"
    restored, shown = on_terminal("restore", "--folder", str(tmp_path / "copy"), env=env, cwd=tmp_path)
    assert restored.returncode == 0 and restored.stdout == f"restored {tmp_path / 'copy' / 'app.db'} from {big.s3}\n"
    written = progress(shown, "restoring")
    assert written and max(written) > 0, f"a refresh showed bytes of the staging copy: {shown!r}"
    assert written == sorted(written), "bytes written only grow"
    assert erased_then_said(shown) and shown.rstrip().endswith("pylts: exit 0"), shown


@pytest.mark.integration
def test_no_progress_when_stderr_is_not_a_terminal_or_with_quiet(big: ConfigS3, tmp_path: Path) -> None:
    env = settings_env(big)
    assert big.timed_replicate(120, delete=False)
    piped = subprocess.run(
        [sys.executable, "-m", "pylts", "restore", "--folder", str(tmp_path / "piped")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert piped.returncode == 0 and "MB written" not in piped.stderr, "no progress on a stderr that is a pipe"
    assert all(line.startswith("pylts: ") for line in piped.stderr.splitlines()), "only what pylts did, line by line"
    quiet, shown = on_terminal("restore", "--quiet", "--folder", str(tmp_path / "quiet"), env=env, cwd=tmp_path)
    assert quiet.returncode == 0 and shown == "", "--quiet: nothing on the terminal"
    quiet, shown = on_terminal("replicate", "--once", "--quiet", env=env, cwd=tmp_path)
    assert quiet.returncode == 0 and shown == ""


def test_the_line_is_rewritten_in_place_never_goes_down_and_is_erased(tmp_path: Path) -> None:
    """A file that grows, then vanishes (as a staging copy moved into place): the line keeps the most seen."""
    db = tmp_path / "app.db"
    staging = tmp_path / ".app.db.restore-x1"
    staging.mkdir()
    sizes = iter([0, 2_000_000, 5_000_000])

    def grow() -> int:
        size = next(sizes, None)
        if size is None:
            shutil.rmtree(staging, ignore_errors=True)
        else:
            (staging / "app.db").write_bytes(b"\0" * size)
        return staged_bytes(db)

    stream = io.StringIO()
    with Progress("restoring app.db", grow, stream, interval=0.02):
        deadline = time.monotonic() + 10
        while staging.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # refreshes after the copy vanished
    shown = stream.getvalue()
    written = [float(match.group(2)) for match in LINE.finditer(shown)]
    assert written[:3] == [0.0, 2.0, 5.0] and set(written[3:]) == {5.0}, shown
    assert shown.endswith("\r\x1b[K")


def test_a_backup_measures_the_database_and_its_wal(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    write_rows(db, 100)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("INSERT INTO items (id, body) VALUES (1000, 'in the WAL')")
        conn.commit()
        wal = tmp_path / "app.db-wal"
        assert wal.stat().st_size > 0
        assert database_bytes(db) == db.stat().st_size + wal.stat().st_size
    assert database_bytes(tmp_path / "missing.db") == 0
