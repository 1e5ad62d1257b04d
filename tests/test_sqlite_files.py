"""The checks pylts makes on database files, on real SQLite files."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from helpers import write_rows

from pylts.errors import DatabaseInvalid, DatabaseLocked
from pylts.migrate import row_counts
from pylts.sqlite_files import (
    check_integrity,
    content_digest,
    database_files,
    is_blank,
    latest_ltx,
    remove,
    require_sqlite_header,
    wal_kept,
    wal_position,
    write_locked,
)


def wal_db(path: Path, rows: int) -> Path:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA wal_autocheckpoint=0")
    write_rows(path, rows)
    return path


def test_a_text_file_is_not_a_database(tmp_path: Path) -> None:
    fake = tmp_path / "app.db"
    fake.write_text("hello, I am not SQLite")
    with pytest.raises(DatabaseInvalid, match="not a SQLite database"):
        require_sqlite_header(fake)
    with pytest.raises(DatabaseInvalid, match="not a usable SQLite database"):
        check_integrity(fake, "quick")


def test_an_empty_file_is_blank_and_never_passes_for_a_database(tmp_path: Path) -> None:
    empty = tmp_path / "app.db"
    empty.write_bytes(b"")
    assert is_blank(empty)
    with pytest.raises(DatabaseInvalid, match="empty file"):
        require_sqlite_header(empty)
    empty.with_name("app.db-wal").write_bytes(b"frames a 0-byte main file may still have")
    assert not is_blank(empty), "WAL content is data: not blank"


@pytest.mark.parametrize("mode", ["quick", "full", "none"])
def test_a_good_database_passes(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "app.db"
    write_rows(db, 100)
    check_integrity(db, mode)  # type: ignore[arg-type]


def test_a_corrupted_database_fails_the_check(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    write_rows(db, 2000)
    data = bytearray(db.read_bytes())
    data[4096 * 2 : 4096 * 2 + 512] = b"\xff" * 512
    db.write_bytes(bytes(data))
    with pytest.raises(DatabaseInvalid):
        check_integrity(db, "full")


def test_write_lock_is_refused_while_another_writer_holds_it(tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db", 1)
    with closing(sqlite3.connect(db, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseLocked, match="locked by another writer"), write_locked(db, busy_timeout=0.1):
            pass
        other.execute("ROLLBACK")
    with write_locked(db):
        pass


def test_wal_position_ends_at_the_last_commit(tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db", 0)
    with closing(sqlite3.connect(db)) as keeper:  # while it is open, closing others keeps the WAL
        keeper.execute("SELECT count(*) FROM sqlite_master").fetchone()
        write_rows(db, 10)
        first = wal_position(db)
        write_rows(db, 10, start=10)
        second = wal_position(db)
        wal_size = db.with_name("app.db-wal").stat().st_size
    assert first is not None and second is not None
    assert second.salts == first.salts and second.end > first.end
    assert second.end == wal_size


def test_a_kept_wal_outlives_checkpoints_and_the_apps_last_close(tmp_path: Path) -> None:
    """While kept, the app's checkpoints cannot restart the WAL past what litestream has not read, nor can its last
    connection fold it away; the keeper itself leaves it as it is."""
    db = tmp_path / "app.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    write_rows(db, 1)
    with wal_kept(db):
        with closing(sqlite3.connect(db, timeout=0, isolation_level=None)) as app:
            app.execute("PRAGMA wal_autocheckpoint=1")  # a checkpoint after every commit
            app.execute("INSERT INTO items (id, body) VALUES (1, 'while kept')")
            held = wal_position(db)
            for number in range(2, 40):
                app.execute("INSERT INTO items (id, body) VALUES (?, 'while kept')", (number,))
        after = wal_position(db)  # the app's connection, the last but the keeper's, is closed
    assert held is not None and after is not None
    assert after.salts == held.salts and after.end > held.end, "the WAL still holds every commit since"
    assert wal_position(db) == after, "closing the keeper left the WAL alone"


def test_a_database_not_in_wal_mode_is_not_held_and_its_writers_go_on(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    write_rows(db, 1)  # a rollback journal: a read transaction there would block every writer
    with wal_kept(db), closing(sqlite3.connect(db, timeout=0.1)) as app, app:
        app.execute("INSERT INTO items (id, body) VALUES (1, 'written while kept')")
    with pytest.raises(DatabaseLocked, match="cannot hold a read transaction"), wal_kept(tmp_path / "missing.db"):
        pass


def test_no_wal_means_no_position(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    write_rows(db, 1)
    assert wal_position(db) is None
    assert latest_ltx(db) is None


def test_digest_follows_content_not_bytes(tmp_path: Path) -> None:
    db = wal_db(tmp_path / "a.db", 50)
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = tmp_path / "b.db"
    shutil.copy(db, copy)
    with closing(sqlite3.connect(copy)) as conn, conn:
        conn.execute("CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER)")
    assert content_digest(db) == content_digest(copy)
    write_rows(copy, 1, start=50)
    assert content_digest(db) != content_digest(copy)


def test_remove_takes_every_file_of_the_database(tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db", 1)
    for path in database_files(db)[1:]:
        if path.name.startswith("."):
            path.mkdir() if path.suffix != ".yml" else path.write_text("")
        else:
            path.write_bytes(b"")
    (tmp_path / "other.db").write_bytes(b"")
    remove(database_files(db))
    assert [p.name for p in tmp_path.iterdir()] == ["other.db"]


@pytest.mark.parametrize("name", ["app?v=2.db", "app#1.db", "app 100%25.db"])
def test_a_database_whose_name_holds_uri_characters_is_read_where_it_is(name: str, tmp_path: Path) -> None:
    """``file:{path}?mode=ro`` ended the path at a ``?`` or ``#``: SQLite created an empty ``app`` and read that."""
    db = wal_db(tmp_path / name, 3)
    (tmp_path / "plain").mkdir()
    check_integrity(db, "full")
    assert row_counts(db) == {"items": 3}
    assert content_digest(db) == content_digest(wal_db(tmp_path / "plain" / "app.db", 3))
    with wal_kept(db):
        pass
    strays = [path.name for path in tmp_path.iterdir() if not path.name.startswith((db.name, "plain"))]
    assert not strays, "SQLite created a database beside the one asked for"
