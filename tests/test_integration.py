"""The real litestream (0.5.17 and 0.3.13) against a real S3 API (moto) on 127.0.0.1."""

from __future__ import annotations

import re
import sqlite3
import ssl
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from helpers import S3Server, derive, free_port, missing, read_rows, refused_credentials, write_rows

from pylts import (
    BackupNotConfirmed,
    BucketNotFound,
    ConfigS3,
    CredentialsRejected,
    DatabaseExists,
    DatabaseInvalid,
    DatabaseNotFound,
    EndpointUnreachable,
    InvalidArgument,
    NoBackupFound,
    TLSSetupError,
    runner,
)
from pylts.backup import delete_if_confirmed
from pylts.deadline import Deadline
from pylts.output import RunResult
from pylts.testing import ACCESS_KEY, SECRET_KEY, LocalS3

pytestmark = pytest.mark.integration


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_round_trip(server_cfg: ConfigS3) -> None:
    cfg = server_cfg
    write_rows(cfg.dbpath, 500)
    before = read_rows(cfg.dbpath)
    assert cfg.timed_replicate(30) is True
    assert not cfg.dbpath.exists(), "deleted after a confirmed backup, as pylts 0.0.9 did"
    assert cfg.restore() == cfg.dbpath
    assert read_rows(cfg.dbpath) == before


def test_backup_keeps_the_database_when_asked(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 10)
    before = read_rows(cfg.dbpath)
    assert cfg.timed_replicate(30, delete=False) is True
    assert cfg.dbpath.is_file(), "delete=False keeps the local database"
    assert read_rows(cfg.dbpath) == before
    copy = derive(cfg, folder=tmp_path / "copy")
    copy.restore()
    assert read_rows(copy.dbpath) == before, "and the replica holds all of it"


def test_restore_refuses_to_overwrite_and_changes_nothing(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 10)
    assert cfg.timed_replicate(30, delete=False)
    write_rows(cfg.dbpath, 5, start=10)  # local changes the replica does not have yet
    listing, content = files_in(cfg.folder), cfg.dbpath.read_bytes()
    with pytest.raises(DatabaseExists, match="overwrite=True"):
        cfg.restore()
    assert files_in(cfg.folder) == listing and cfg.dbpath.read_bytes() == content


def test_restore_overwrite_replaces_database_and_stale_sidecars(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 10)
    backed_up = read_rows(cfg.dbpath)
    assert cfg.timed_replicate(30, delete=False)
    write_rows(cfg.dbpath, 5, start=10)
    cfg.restore(overwrite=True)
    assert read_rows(cfg.dbpath) == backed_up
    assert not [name for name in files_in(cfg.folder) if "restore" in name]


def test_restore_with_no_backup(cfg: ConfigS3) -> None:
    with pytest.raises(NoBackupFound, match="nothing has been replicated"):
        cfg.restore()
    assert not cfg.dbpath.exists()
    assert not [name for name in files_in(cfg.folder) if not name.endswith("-pylts.yml")], "no partial file left"


def test_restore_clears_stale_sidecars_of_a_missing_database(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 3)
    assert cfg.timed_replicate(30)
    stale = cfg.dbpath.with_name("app.db-wal")
    stale.write_bytes(b"garbage from an earlier life")
    cfg.restore()
    assert len(read_rows(cfg.dbpath)) == 3


def test_missing_bucket(s3_server: S3Server, litestream_bin: Path, tmp_path: Path) -> None:
    cfg = s3_server.config("no-such-bucket", "app.db", db="app.db", folder=tmp_path, litestream_bin=litestream_bin)
    write_rows(cfg.dbpath, 3)
    with pytest.raises(BucketNotFound, match="create the bucket"):
        cfg.timed_replicate(20)
    assert cfg.dbpath.exists()
    with pytest.raises(BucketNotFound):
        derive(cfg, db="other.db").restore()


def test_wrong_credentials(server_cfg: ConfigS3, s3_server: S3Server) -> None:
    write_rows(server_cfg.dbpath, 3)
    with refused_credentials(s3_server, server_cfg) as cfg:
        with pytest.raises(CredentialsRejected, match="LITESTREAM_ACCESS_KEY_ID") as backup_error:
            cfg.timed_replicate(20)
        with pytest.raises(CredentialsRejected) as restore_error:
            derive(cfg, db="other.db").restore()
    assert cfg.dbpath.exists()
    assert cfg.key is not None and cfg.token is not None
    for error in (backup_error.value, restore_error.value):
        text = f"{error} {error.argv} {error.output}"
        assert cfg.key.get_secret_value() not in text and cfg.token.get_secret_value() not in text


def test_unreachable_endpoint_fails_within_the_deadline(
    local_s3: LocalS3, litestream_bin: Path, tmp_path: Path
) -> None:
    cfg = local_s3.config(
        "any-bucket",
        "app.db",
        db="app.db",
        folder=tmp_path,
        litestream_bin=litestream_bin,
        endpoint=f"http://127.0.0.1:{free_port()}",
    )
    write_rows(cfg.dbpath, 3)
    started = time.monotonic()
    with pytest.raises(EndpointUnreachable, match=re.escape("cannot connect to the S3 endpoint 127.0.0.1")):
        cfg.timed_replicate(10)
    with pytest.raises(EndpointUnreachable):
        derive(cfg, db="other.db").restore(timeout=10)
    assert time.monotonic() - started < 10
    assert cfg.dbpath.exists()


def test_backup_of_a_missing_database(cfg: ConfigS3) -> None:
    with pytest.raises(DatabaseNotFound, match="nothing to back up"):
        cfg.timed_replicate(10)


def test_backup_of_a_file_that_is_not_sqlite(cfg: ConfigS3) -> None:
    cfg.folder.mkdir(parents=True)
    cfg.dbpath.write_text("not a database")
    with pytest.raises(DatabaseInvalid):
        cfg.timed_replicate(10)
    assert cfg.dbpath.read_text() == "not a database"


@pytest.mark.parametrize("timeout", [0, -5])
def test_nonsense_timeouts(cfg: ConfigS3, timeout: float) -> None:
    write_rows(cfg.dbpath, 1)
    with pytest.raises(InvalidArgument):
        cfg.timed_replicate(timeout)
    with pytest.raises(InvalidArgument):
        cfg.restore(timeout=timeout)


def test_nothing_is_deleted_when_a_write_came_after_the_backup(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 10)
    assert cfg.timed_replicate(30, delete=False)
    write_rows(cfg.dbpath, 1, start=10)
    with pytest.raises(BackupNotConfirmed, match="was kept"):
        delete_if_confirmed(cfg.plan(), Deadline(30))
    assert len(read_rows(cfg.dbpath)) == 11


def litestream_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The litestream commands that reach the replica (``replicate``, ``ltx``...) run from now on, in order."""
    seen: list[str] = []
    real_run = runner.run

    def run(argv: Sequence[str], **options: Any) -> RunResult:
        if argv[1] != "version":
            seen.append(argv[1])
        return real_run(argv, **options)

    monkeypatch.setattr(runner, "run", run)
    return seen


#: For what only litestream 0.5 does: 0.3 confirms a backup by restoring it, with nothing reported to use.
ONLY_05 = pytest.mark.parametrize("litestream_bin", ["0.5"], indirect=True)


@ONLY_05
def test_a_backup_is_confirmed_by_the_stores_own_listing(cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch) -> None:
    write_rows(cfg.dbpath, 10)
    commands = litestream_commands(monkeypatch)
    assert cfg.timed_replicate(30) is True
    assert not cfg.dbpath.exists()
    assert commands == ["replicate"], "pylts' own listing of the store confirms it: no litestream listing"


@ONLY_05
def test_deleting_is_confirmed_against_the_replica_itself(cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch) -> None:
    write_rows(cfg.dbpath, 10)
    assert cfg.timed_replicate(30, delete=False)
    commands = litestream_commands(monkeypatch)
    delete_if_confirmed(cfg.plan(), Deadline(30))
    assert not cfg.dbpath.exists() and commands == [], "confirmed by pylts' own listing of the store"

    other = derive(cfg, db="other.db", s3=cfg.s3.replace("/app.db", "/other.db"))
    write_rows(other.dbpath, 10)
    assert other.timed_replicate(30, delete=False)
    elsewhere = derive(other, s3=cfg.s3.replace("/app.db", "/never-written.db"))
    with pytest.raises(BackupNotConfirmed, match="the replica holds transactions with no gap up to 0"):
        delete_if_confirmed(elsewhere.plan(), Deadline(30))
    assert len(read_rows(other.dbpath)) == 10 and commands == ["replicate"]


def test_get_result_on_timeout_returns_output_and_reaps(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 1)
    stdout, stderr = cfg.get_result_on_timeout(cfg.replicate_args, 3)
    assert "replicating to" in stdout + stderr


def test_stray_aws_variables_do_not_override_the_settings(
    cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch, local_s3: LocalS3
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASTRAYSTRAYSTRAY0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stray")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "stray-session-token")
    write_rows(cfg.dbpath, 2)
    assert cfg.timed_replicate(30)
    cfg.restore()
    assert len(read_rows(cfg.dbpath)) == 2


def system_ca_bundle() -> str:
    candidates = [
        ssl.get_default_verify_paths().cafile,
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    if found is None:
        missing("no system CA bundle to point AWS_CA_BUNDLE at")
    return str(found)


def test_aws_ca_bundle_does_not_break_litestream(cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """litestream 0.5 exits at once with AWS_CA_BUNDLE set; pylts hands it over as SSL_CERT_FILE."""
    monkeypatch.setenv("AWS_CA_BUNDLE", system_ca_bundle())
    write_rows(cfg.dbpath, 2)
    assert cfg.timed_replicate(30)
    cfg.restore()
    assert len(read_rows(cfg.dbpath)) == 2


def test_a_ca_bundle_litestream_cannot_load_is_named(
    cfg: ConfigS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "empty.pem"
    bundle.write_text("")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(bundle))
    write_rows(cfg.dbpath, 2)
    if cfg.plan().line.loads_aws_ca_bundle:
        with pytest.raises(TLSSetupError, match="AWS_CA_BUNDLE or SSL_CERT_FILE"):
            cfg.timed_replicate(20)
    else:  # litestream gets no AWS_CA_BUNDLE, and plain http needs no certificate
        assert cfg.timed_replicate(20)


def test_a_restored_database_is_a_normal_sqlite_file(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 100)
    assert cfg.timed_replicate(30)
    cfg.restore(integrity_check="full")
    with closing(sqlite3.connect(cfg.dbpath)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.execute("INSERT INTO items (id, body) VALUES (1000, 'still writable')")


def test_consecutive_backups_while_the_app_keeps_its_connection(cfg: ConfigS3, tmp_path: Path) -> None:
    """With the app's connection open the WAL survives, so litestream continues its generation."""
    cfg.folder.mkdir(parents=True)
    with closing(sqlite3.connect(cfg.dbpath)) as app:
        app.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        app.execute("INSERT INTO items (body) VALUES ('first')")
        app.commit()
        assert cfg.timed_replicate(30, delete=False)
        app.execute("INSERT INTO items (body) VALUES ('second')")
        app.commit()
        assert cfg.timed_replicate(30, delete=False)
        elsewhere = derive(cfg, folder=tmp_path / "elsewhere")
        elsewhere.restore()
        assert read_rows(elsewhere.dbpath) == [(1, "first"), (2, "second")]


def test_an_empty_file_left_by_a_health_check_never_replaces_the_backup(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 100)
    assert cfg.timed_replicate(30) is True  # the database is deleted after its confirmed backup, as in 0.0.9
    sqlite3.connect(cfg.dbpath).close()  # a health check (or an ORM) touches the path first
    assert cfg.dbpath.stat().st_size == 0

    for call in (lambda: cfg.timed_replicate(30, delete=False), lambda: cfg.verify(sync=True)):
        with pytest.raises(DatabaseInvalid, match="empty file"):
            call()
        assert cfg.dbpath.stat().st_size == 0, "refused before touching the file"

    assert cfg.ensure_restored().value == "restored"
    assert len(read_rows(cfg.dbpath)) == 100
    with cfg.replicating() as replication:
        write_rows(cfg.dbpath, 1, start=100)
        assert replication.wait_for_sync(30)
    elsewhere = ConfigS3(
        key=ACCESS_KEY,
        token=SECRET_KEY,
        s3=cfg.s3,
        endpoint=cfg.endpoint,
        db=cfg.db,
        folder=tmp_path / "elsewhere",
        litestream_bin=cfg.litestream_bin,
    )
    assert elsewhere.ensure_restored().value == "restored"
    assert len(read_rows(elsewhere.dbpath)) == 101


def test_a_file_that_is_not_sqlite_is_never_booted_on(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 10)
    assert cfg.timed_replicate(30) is True
    cfg.dbpath.write_bytes(b"not a database, not empty either")
    with pytest.raises(DatabaseInvalid, match=f"{cfg.dbpath} is not a SQLite database"):
        cfg.ensure_restored()
    assert cfg.dbpath.read_bytes() == b"not a database, not empty either"


def test_a_database_folder_that_is_a_file_is_named(cfg: ConfigS3) -> None:
    cfg.folder.parent.mkdir(parents=True, exist_ok=True)
    cfg.folder.write_text("I am a file")
    for call in (cfg.ensure_restored, lambda: cfg.restore(overwrite=True)):
        with pytest.raises(DatabaseInvalid, match="is a file, not a folder"):
            call()
    assert cfg.folder.read_text() == "I am a file"
