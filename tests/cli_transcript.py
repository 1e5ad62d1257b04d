"""A real ``pylts replicate --exec`` run, as docs/cli.md shows it: litestream killed once, the store down a while.

``python3 tests/cli_transcript.py PATH`` runs it on a local S3 and writes what pylts said to PATH
(``python3 tasks.py cli-transcript``); tests/test_cli_life.py runs it again and checks that each
line of PATH is one the code says, and that every acknowledged write is in the replica.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from helpers import PYLTS_COMMAND, derive, litestream_child, read_rows, settings_env, wait_until

from pylts import ConfigS3
from pylts.testing import ACCESS_KEY, SECRET_KEY, LocalS3

#: The app: writes a row every 50 ms and notes each one SQLite acknowledged, until told to stop.
APP = """\
import os, sqlite3, time
db = os.path.join(os.environ["DB_FOLDER"], os.environ["DB_SQLITE"])  # the settings pylts runs with
conn = sqlite3.connect(db, isolation_level=None, timeout=30)
conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body TEXT)")
with open("acknowledged.txt", "a") as out:
    row = 0
    while not os.path.exists("stop"):
        row += 1
        conn.execute("INSERT INTO items (id, body) VALUES (?, 'written by the app')", (row,))
        print(row, file=out, flush=True)
        time.sleep(0.05)
"""
#: What the docs call the places a run used (the test's are temporary folders).
SHOWN_FOLDER = "/srv/app"
SHOWN_BUCKET = "backups"


@dataclass
class Run:
    """What one run said on stderr, and what a later restore found."""

    lines: list[str] = field(default_factory=list)
    returncode: int | None = None
    app_pid: int | None = None
    killed_litestream: int | None = None
    acknowledged: set[int] = field(default_factory=set)
    restored: set[int] = field(default_factory=set)

    def said(self, fragment: str, after: int = 0) -> bool:
        """Whether a line from the ``after``-th on holds ``fragment``."""
        return any(fragment in line for line in self.lines[after:])


def run(cfg: ConfigS3, s3: LocalS3, folder: Path, *, outage: float = 8.0) -> Run:
    """Start the app under ``pylts replicate --exec``; kill litestream; stop the store for ``outage`` s; stop."""
    env = settings_env(cfg)
    env.pop("AWS_CA_BUNDLE", None)  # a machine's trap (docs/troubleshooting.md), not part of the run shown
    acknowledged, stop = folder / "acknowledged.txt", folder / "stop"
    (folder / "app.py").write_text(APP)
    result = Run()
    process = subprocess.Popen(
        [PYLTS_COMMAND, "replicate", "--exec", "python3 app.py"], env=env, cwd=folder, stderr=subprocess.PIPE, text=True
    )
    said = process.stderr
    assert said is not None
    reader = threading.Thread(target=lambda: result.lines.extend(iter(said.readline, "")), daemon=True)
    reader.start()
    try:
        _expect(result, "started python3", 60)
        time.sleep(2)
        result.killed_litestream = litestream_child(process.pid)
        assert result.killed_litestream is not None, result.lines
        os.kill(result.killed_litestream, signal.SIGKILL)
        _expect(result, "after litestream's restart", 60)
        time.sleep(2)
        down = len(result.lines)
        s3.stop()
        try:
            _expect(result, f"{cfg.db} is behind", outage + 30, after=down)
            time.sleep(outage)
        finally:
            s3.start()
        _expect(result, f"{cfg.db} is caught up", 60, after=down)
        stop.touch()
        result.returncode = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        said.close()
    started = next(line for line in result.lines if "started python3" in line)
    result.app_pid = int(re.findall(r"pid (\d+)", started)[0])
    result.acknowledged = {int(line) for line in acknowledged.read_text().split()}
    copy = derive(cfg, folder=folder / "restored")
    copy.restore()
    result.restored = {row[0] for row in read_rows(copy.dbpath)}
    return result


def _expect(result: Run, fragment: str, timeout: float, after: int = 0) -> None:
    said = wait_until(lambda: result.said(fragment, after), timeout)
    assert said, f"pylts never said {fragment!r} (after line {after}): {result.lines}"


def shown(lines: list[str], cfg: ConfigS3, folder: Path) -> list[str]:
    """The lines as the docs show them: the run's folders, bucket and port given stable names."""
    bucket = cfg.s3.removeprefix("s3://").partition("/")[0]
    text = "".join(lines).replace(str(cfg.folder), f"{SHOWN_FOLDER}/data").replace(str(folder), SHOWN_FOLDER)
    text = text.replace(f"s3://{bucket}/", f"s3://{SHOWN_BUCKET}/")
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:9000", text).splitlines()


def pattern(line: str) -> str:
    """A line with what changes from run to run (numbers, positions) made a wildcard."""
    return re.sub(r"[0-9a-f]{16}|\d+(\.\d+)?", "N", line)


def main(path: str) -> None:
    with LocalS3() as s3, tempfile.TemporaryDirectory(prefix="pylts-transcript-") as where:
        s3.create_bucket(SHOWN_BUCKET)
        folder = Path(where)
        if True:
            cfg = ConfigS3(
                key=ACCESS_KEY,
                token=SECRET_KEY,
                s3=f"s3://{SHOWN_BUCKET}/db.sqlite",
                endpoint=s3.endpoint,
                folder=folder / "data",
                _env_file=None,
            )
            result = run(cfg, s3, folder)
            assert result.acknowledged <= result.restored, "an acknowledged write is missing from the replica"
            lines = ['$ pylts replicate --exec "python3 app.py"', *shown(result.lines, cfg, folder)]
            Path(path).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    main(sys.argv[1])
