"""Tests of an app that keeps its database with pylts, using the fixtures of pylts' pytest plugin.

Copy into your test suite: with pylts[testing] installed, pytest finds the fixtures by itself.
"""

import sqlite3
from contextlib import closing


def test_the_database_comes_back_from_the_backup(pylts_config):
    pylts_config.folder.mkdir()
    with closing(sqlite3.connect(pylts_config.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")
    assert pylts_config.timed_replicate(60)  # one backup; then the local copy is deleted
    assert pylts_config.ensure_restored().value == "restored"
    with closing(sqlite3.connect(pylts_config.dbpath)) as conn:
        assert conn.execute("SELECT body FROM notes").fetchall() == [("kept",)]


def test_each_test_starts_with_an_empty_bucket(pylts_s3, pylts_bucket, pylts_config):
    assert pylts_s3.keys(pylts_bucket) == []
    assert pylts_config.s3 == f"s3://{pylts_bucket}/app.db"
    assert pylts_config.ensure_restored().value == "fresh"  # nothing to restore: a new database
