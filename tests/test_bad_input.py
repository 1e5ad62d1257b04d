"""Bad input, case by case: a typed error that says what to fix, and nothing on disk changed.

docs/_generated/bad-input.md is rendered from CASES (`python3 tasks.py bad-input-docs`); a test keeps it current.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pylts import (
    ConfigS3,
    DatabaseExists,
    DatabaseInvalid,
    DatabaseLocked,
    InvalidArgument,
    InvalidSettingsFile,
    LitestreamNotFound,
    UnsupportedLitestreamVersion,
)
from pylts.cli import main as cli
from pylts.testing import LocalS3

ROOT = Path(__file__).resolve().parent.parent
KEY, SECRET = "AKIABADINPUTTEST0001", "bad-input-secret-value"
CLOSED_ENDPOINT = "http://127.0.0.1:1"
GOOD = {"key": KEY, "token": SECRET, "s3": "s3://backups/app.db", "db": "app.db"}


@dataclass(frozen=True)
class Case:
    area: str
    given: str
    error: type[Exception] | int  # an exception type, or the CLI's exit code
    says: str
    act: Callable[[Any], Any]  # gets what ``prepare`` returned; must change nothing on disk
    prepare: Callable[[World], Any] = lambda world: world  # files it makes are the "before"


class World:
    """What a case may use: a folder to work in, and (for a few) a local S3 with a backup."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
        self.folder, self.monkeypatch, self._request = folder, monkeypatch, request

    def cfg(self, **changes: Any) -> ConfigS3:
        return ConfigS3(_env_file=None, **{**GOOD, "folder": self.folder / "data", **changes})

    def backed_up(self) -> ConfigS3:
        """Settings whose database exists locally and has a backup on the local S3."""
        local_s3: LocalS3 = self._request.getfixturevalue("local_s3")
        bucket = self._request.getfixturevalue("bucket")
        cfg = local_s3.config(bucket, "app.db", db="app.db", folder=self.folder / "data")
        cfg.folder.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
            conn.execute("CREATE TABLE t (x)")
        assert cfg.timed_replicate(30, delete=False)
        return cfg

    def dotenv(self, content: str | bytes) -> Path:
        env = self.folder / ".env"
        env.write_bytes(content.encode() if isinstance(content, str) else content)
        return env

    def script(self, body: str, executable: bool = True) -> ConfigS3:
        """Settings whose LITESTREAM_BIN is a small shell script."""
        path = self.folder / "litestream"
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755 if executable else 0o644)
        return self.cfg(litestream_bin=path)

    def cli(self, *args: str) -> int:
        settings = {"LITESTREAM_ACCESS_KEY_ID": KEY, "LITESTREAM_SECRET_ACCESS_KEY": SECRET, "REPLICA_URL": GOOD["s3"]}
        settings["REPLICA_ENDPOINT"] = CLOSED_ENDPOINT  # a case that wrongly goes ahead fails fast, on this machine
        for name, value in settings.items():
            self.monkeypatch.setenv(name, value)
        try:
            return cli(list(args))
        except SystemExit as exc:  # argparse's own usage errors
            return int(exc.code or 0)


def sqlite_db(world: World) -> ConfigS3:
    cfg = world.cfg()
    cfg.folder.mkdir(parents=True)
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE t (x)")
    return cfg


def text_file(world: World) -> ConfigS3:
    cfg = world.cfg()
    cfg.folder.mkdir(parents=True)
    cfg.dbpath.write_text("I am not a database")
    return cfg


class LockedDb:
    """A backed-up database whose write lock another connection holds until ``close()``."""

    def __init__(self, world: World) -> None:
        self.cfg = world.backed_up()
        self._writer = sqlite3.connect(self.cfg.dbpath, isolation_level=None)
        self._writer.execute("BEGIN IMMEDIATE")

    def close(self) -> None:
        self._writer.close()


def from_env_file(env_file: Path) -> ConfigS3:
    return ConfigS3(_env_file=env_file)


def restore(cfg: ConfigS3) -> Path:
    return cfg.restore()


LATER = datetime.now(timezone.utc) + timedelta(days=365)

CASES = [
    Case("settings", "`REPLICA_URL` empty", ValidationError, "the replica URL is empty", lambda w: w.cfg(s3="")),
    Case(
        "settings",
        "`REPLICA_URL` without a scheme",
        ValidationError,
        "must start with s3:// (got scheme none)",
        lambda w: w.cfg(s3="backups/app.db"),
    ),
    Case(
        "settings",
        "`REPLICA_URL` with another scheme (`gs://`)",
        ValidationError,
        "must start with s3:// (got scheme 'gs://')",
        lambda w: w.cfg(s3="gs://backups/app.db"),
    ),
    Case(
        "settings",
        "`REPLICA_URL` as `file://`",
        ValidationError,
        "must start with s3://",
        lambda w: w.cfg(s3="file:///tmp/app.db"),
    ),
    Case(
        "settings",
        "bucket name with a space",
        ValidationError,
        "bucket name 'my backups' is not valid",
        lambda w: w.cfg(s3="s3://my backups/app.db"),
    ),
    Case(
        "settings",
        "bucket name in upper case",
        ValidationError,
        "bucket name 'Backups' is not valid",
        lambda w: w.cfg(s3="s3://Backups/app.db"),
    ),
    Case(
        "settings",
        "no path inside the bucket",
        ValidationError,
        "no path inside the bucket",
        lambda w: w.cfg(s3="s3://backups"),
    ),
    Case(
        "settings",
        "credentials inside the URL",
        ValidationError,
        "must not carry credentials",
        lambda w: w.cfg(s3="s3://AKIA:x@backups/app.db"),
    ),
    Case(
        "settings",
        "`..` in the replica path",
        ValidationError,
        "'..' segment",
        lambda w: w.cfg(s3="s3://backups/a/../app.db"),
    ),
    Case(
        "settings",
        "unknown URL option",
        ValidationError,
        "unknown replica URL option 'colour'",
        lambda w: w.cfg(s3="s3://backups/app.db?colour=blue"),
    ),
    Case(
        "settings",
        "endpoint without http(s)://",
        ValidationError,
        "must be an http:// or https:// URL",
        lambda w: w.cfg(endpoint="127.0.0.1:9000"),
    ),
    Case(
        "settings",
        "credentials inside the endpoint",
        ValidationError,
        "endpoint must not carry credentials",
        lambda w: w.cfg(endpoint=f"https://{KEY}:{SECRET}@minio.example.com"),
    ),
    Case(
        "settings",
        "credentials inside `?endpoint=` of the URL",
        ValidationError,
        "endpoint must not carry credentials",
        lambda w: w.cfg(s3=f"s3://backups/app.db?endpoint=https://{KEY}:{SECRET}@minio.example.com"),
    ),
    Case(
        "settings",
        "endpoint given twice, differently",
        ValidationError,
        "endpoint is given twice",
        lambda w: w.cfg(s3="s3://backups/app.db?endpoint=http://a:1", endpoint="http://b:2"),
    ),
    Case(
        "settings",
        "`DB_SQLITE` = `a/../../x.db`",
        ValidationError,
        "db must be a plain file name",
        lambda w: w.cfg(db="a/../../x.db"),
    ),
    Case(
        "settings",
        "`DB_SQLITE` absolute",
        ValidationError,
        "db must be a plain file name",
        lambda w: w.cfg(db="/etc/app.db"),
    ),
    Case(
        "settings",
        "`DB_SQLITE` in a sub-folder",
        ValidationError,
        "db must be a plain file name",
        lambda w: w.cfg(db="sub/app.db"),
    ),
    Case(
        "settings",
        "`DB_SQLITE` with a wrong suffix",
        ValidationError,
        "must end in .db, .sqlite or .sqlite3",
        lambda w: w.cfg(db="app.txt"),
    ),
    Case(
        "settings",
        "no credentials at all",
        ValidationError,
        "set LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY",
        lambda w: w.cfg(key=None, token=None),
    ),
    Case(
        "settings",
        "access key without its secret",
        ValidationError,
        "set LITESTREAM_SECRET_ACCESS_KEY",
        lambda w: w.cfg(token=None),
    ),
    Case(
        "settings",
        "`REPLICA_FORCE_PATH_STYLE=maybe`",
        ValidationError,
        "valid boolean",
        lambda w: w.cfg(force_path_style="maybe"),
    ),
    Case(
        ".env",
        "a line that is not `NAME=value`",
        InvalidSettingsFile,
        "line 2 of",
        from_env_file,
        lambda w: w.dotenv(f"REPLICA_URL=s3://b/a.db\nthis is not a setting\nLITESTREAM_ACCESS_KEY_ID={KEY}\n"),
    ),
    Case(
        ".env",
        "an unterminated quote",
        InvalidSettingsFile,
        "write each setting as NAME=value",
        from_env_file,
        lambda w: w.dotenv(f'REPLICA_URL=s3://b/a.db\nLITESTREAM_SECRET_ACCESS_KEY="{SECRET}\n'),
    ),
    Case(
        ".env",
        "a file that is not UTF-8",
        InvalidSettingsFile,
        "line 3 of",
        from_env_file,
        lambda w: w.dotenv(
            f"REPLICA_URL=s3://b/a.db\nLITESTREAM_ACCESS_KEY_ID={KEY}\nLITESTREAM_SECRET_ACCESS_KEY=caf\xe9\n".encode(
                "latin-1"
            )
        ),
    ),
    Case(
        ".env",
        "a bad value in a good line",
        ValidationError,
        "must start with s3://",
        from_env_file,
        lambda w: w.dotenv(
            f"REPLICA_URL=gs://b/a.db\nLITESTREAM_ACCESS_KEY_ID={KEY}\nLITESTREAM_SECRET_ACCESS_KEY={SECRET}\n"
        ),
    ),
    Case(
        "binary",
        "`LITESTREAM_BIN` names a missing file",
        LitestreamNotFound,
        "which is not a file",
        lambda w: w.cfg(litestream_bin=w.folder / "nope").restore(),
    ),
    Case(
        "binary",
        "`LITESTREAM_BIN` not executable",
        LitestreamNotFound,
        "chmod +x",
        restore,
        lambda w: w.script("echo 0.5.17", executable=False),
    ),
    Case(
        "binary",
        "an unsupported litestream (0.4.2)",
        UnsupportedLitestreamVersion,
        "0.4.2 is not supported",
        restore,
        lambda w: w.script("echo v0.4.2"),
    ),
    Case(
        "binary",
        "a binary that cannot report its version",
        UnsupportedLitestreamVersion,
        "exited with 3",
        restore,
        lambda w: w.script("exit 3"),
    ),
    Case(
        "method",
        "`timed_replicate(0)`",
        InvalidArgument,
        "positive number of seconds, got 0",
        lambda w: w.cfg().timed_replicate(0),
    ),
    Case(
        "method",
        "`timed_replicate(-5)`",
        InvalidArgument,
        "positive number of seconds, got -5",
        lambda w: w.cfg().timed_replicate(-5),
    ),
    Case(
        "method",
        "`restore(timeout=inf)`",
        InvalidArgument,
        "positive number of seconds",
        lambda w: w.cfg().restore(timeout=float("inf")),
    ),
    Case(
        "method",
        "a timestamp without a time zone",
        InvalidArgument,
        "has no time zone",
        lambda w: w.cfg().restore(timestamp=datetime(2026, 1, 1)),
    ),
    Case(
        "method",
        "a timestamp in the future",
        InvalidArgument,
        "is in the future",
        lambda w: w.cfg().restore(timestamp=LATER),
    ),
    Case(
        "method",
        "a timestamp that is not RFC 3339",
        InvalidArgument,
        "is not RFC 3339",
        lambda w: w.cfg().restore(timestamp="last tuesday"),
    ),
    Case(
        "method",
        "a txid that is not hex",
        InvalidArgument,
        "is not a transaction id",
        lambda w: w.cfg().restore(txid="xyz"),
    ),
    Case("method", "`txid=0`", InvalidArgument, "between 1 and", lambda w: w.cfg().restore(txid=0)),
    Case(
        "method",
        "a timestamp and a txid together",
        InvalidArgument,
        "not both",
        lambda w: w.cfg().restore(txid=1, timestamp="2026-01-01T00:00:00Z"),
    ),
    Case(
        "method",
        "a command as one string",
        InvalidArgument,
        "list of arguments",
        lambda w: w.cfg().get_result_on_timeout("litestream replicate", 5),
    ),
    Case(
        "method",
        "a text file at `dbpath`, backed up",
        DatabaseInvalid,
        "not a SQLite database",
        lambda cfg: cfg.timed_replicate(10),
        text_file,
    ),
    Case(
        "method",
        "a text file at `dbpath`, overwritten by restore",
        DatabaseInvalid,
        "not a SQLite database",
        lambda cfg: cfg.restore(overwrite=True),
        text_file,
    ),
    Case(
        "method",
        "`restore()` over an existing database",
        DatabaseExists,
        "pass overwrite=True",
        lambda cfg: cfg.restore(),
        sqlite_db,
    ),
    Case(
        "method",
        "`restore(overwrite=True)` while another writer holds the database",
        DatabaseLocked,
        "stop the processes that use it",
        lambda db: db.cfg.restore(overwrite=True),
        LockedDb,
    ),
    Case(
        "CLI",
        "`pylts restore --timeout -1`",
        2,
        "positive number of seconds",
        lambda w: w.cli("restore", "--timeout", "-1"),
    ),
    Case(
        "CLI",
        "`pylts restore --timeout soon`",
        2,
        "invalid float value",
        lambda w: w.cli("restore", "--timeout", "soon"),
    ),
    Case("CLI", "`pylts frobnicate`", 2, "invalid choice", lambda w: w.cli("frobnicate")),
    Case(
        "CLI",
        "`pylts restore --if-missing --force`",
        2,
        "--if-missing restores only a missing database",
        lambda w: w.cli("restore", "--if-missing", "--force"),
    ),
    Case(
        "CLI",
        "`pylts restore --timestamp 2026-01-01T00:00:00`",
        2,
        "has no time zone",
        lambda w: w.cli("restore", "--timestamp", "2026-01-01T00:00:00"),
    ),
    Case(
        "CLI",
        '`pylts replicate --exec ""` (an unset `$APP_CMD`)',
        2,
        "--exec got no command",
        lambda w: w.cli("replicate", "--exec", ""),
    ),
    Case(
        "CLI", '`pylts replicate --exec "  "`', 2, "--exec got no command", lambda w: w.cli("replicate", "--exec", "  ")
    ),
    Case(
        "CLI",
        "`pylts replicate --exec` with an unclosed quote",
        2,
        "--exec: No closing quotation",
        lambda w: w.cli("replicate", "--exec", "app 'x"),
    ),
    Case(
        "CLI",
        "`pylts replicate --timeout 30` without `--once`",
        2,
        "--timeout goes with --once",
        lambda w: w.cli("replicate", "--timeout", "30"),
    ),
    Case(
        "CLI",
        "`pylts replicate --exec app --delete`",
        2,
        "--delete goes with --once",
        lambda w: w.cli("replicate", "--exec", "app", "--delete"),
    ),
    Case(
        "CLI",
        "`--env-file` naming a missing file",
        2,
        "--env-file prod.env does not exist",
        lambda w: w.cli("config", "--env-file", "prod.env"),
    ),
    Case(
        "CLI",
        "`pylts contents --db ../app.db`",
        2,
        "db must be a plain file name",
        lambda w: w.cli("contents", "--db", "../app.db"),
    ),
]


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder`` with its size and modification time (SQLite's -shm index left out)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith("-shm")
    }


@pytest.mark.parametrize("case", CASES, ids=[f"{c.area}: {c.given}" for c in CASES])
def test_bad_input(
    case: Case,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    subject = case.prepare(World(tmp_path, monkeypatch, request))
    before = tree(tmp_path)
    try:
        if isinstance(case.error, int):
            code = case.act(subject)
            message = capsys.readouterr().err
            assert code == case.error, message
        else:
            with pytest.raises(case.error) as caught:
                case.act(subject)
            message = str(caught.value)
        assert tree(tmp_path) == before, "nothing on disk changed"
    finally:
        if hasattr(subject, "close"):
            subject.close()
    assert case.says in message, message
    assert SECRET not in message and KEY not in message


def render_table() -> str:
    lines = [
        "| where | what was given | error | the message says |",
        "| --- | --- | --- | --- |",
    ]
    for case in CASES:
        error = f"exit code {case.error}" if isinstance(case.error, int) else f"`{case.error.__name__}`"
        says = case.says.replace("|", "\\|")
        lines.append(f"| {case.area} | {case.given} | {error} | “{says}” |")
    return "\n".join(lines) + "\n"


def test_the_docs_table_is_made_from_these_cases() -> None:
    assert len(CASES) >= 30
    assert (ROOT / "docs" / "_generated" / "bad-input.md").read_text() == render_table(), (
        "run: python3 tasks.py bad-input-docs"
    )


if __name__ == "__main__":
    (ROOT / "docs" / "_generated" / "bad-input.md").write_text(render_table())
