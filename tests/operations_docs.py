"""Write docs/_generated/operations.md: real output of `pylts points`, `restore --dry-run` and `pylts doctor`.

    .venv/bin/python tests/operations_docs.py && .venv/bin/python tests/doc_inlines.py

A local S3 server (moto), the real litestream, 35 s of commits every quarter second with snapshots
every 10 s (so every compaction level a short run reaches is there), then each command as a user
types it. The endpoint's port and the temporary folder are replaced by ``PORT`` and ``/srv/app``.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import PYLTS_COMMAND, settings_env

from pylts.testing import LocalS3

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "_generated" / "operations.md"


def main() -> None:
    with LocalS3() as s3, tempfile.TemporaryDirectory() as work:
        s3.create_bucket("backups")
        folder = Path(work) / "app"
        cfg = s3.config("backups", "app.db", db="app.db", folder=folder, snapshot_interval="10s")
        folder.mkdir()
        with cfg.replicating() as replication:
            ends, i = time.monotonic() + 35, 0
            while time.monotonic() < ends:
                with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
                    conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")
                    conn.execute("INSERT INTO notes (body) VALUES (?)", (f"note {i}",))
                i += 1
                time.sleep(0.25)
            assert replication.wait_for_sync(30)
        env = settings_env(cfg)
        points = cfg.points()
        middle = points.earliest + (points.latest - points.earliest) / 2
        at = middle.strftime("%Y-%m-%dT%H:%M:%SZ")
        runs = [
            ("pylts points", []),
            (f"pylts restore --dry-run --timestamp {at}", []),
            ("pylts doctor --app-busy-timeout 5", []),
            (
                "pylts doctor  # REPLICA_REGION=eu-west-1, and the app's busy timeout not given",
                ["REPLICA_REGION=eu-west-1"],
            ),
        ]
        parts = [
            "<!-- written by tests/operations_docs.py: do not edit -->",
            "",
        ]
        for shown, extra in runs:
            argv = [PYLTS_COMMAND, *shown.split("#")[0].split()[1:]]
            child_env = dict(env, **dict(item.split("=", 1) for item in extra))
            child_env.pop("AWS_CA_BUNDLE", None)  # this machine's: its warning is not what the page shows
            result = subprocess.run(argv, env=child_env, capture_output=True, text=True, timeout=120, cwd=work)
            text = result.stdout + result.stderr
            for real, shown_as in ((str(folder), "/srv/app"), (f":{s3.port}", ":PORT"), (f"%3A{s3.port}", "%3APORT")):
                text = text.replace(real, shown_as)
            text = re.sub(r"\.pylts-doctor-[0-9a-f]+", ".pylts-doctor-PROBE", text)
            text = re.sub(r"(litestream 0\.5\.\d+ at )\S+", r"\1/usr/local/bin/litestream", text)
            text = re.sub(r"[\d,]+ B free", "N B free", text)
            parts += [f"```text\n$ {shown}\n{text.rstrip()}\n$ echo $?\n{result.returncode}\n```", ""]
        TARGET.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")
        print(f"wrote {TARGET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
