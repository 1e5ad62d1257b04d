"""Database folders with the characters people really use: ``$``, spaces, quotes, non-ASCII."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import derive, read_rows, write_rows

from pylts import ConfigS3

pytestmark = pytest.mark.integration

#: ``$HOME`` is expanded by litestream in a config file unless told not to; the rest must survive quoting.
AWKWARD = "$HOME dir 'quoted' \"double\" été"


def test_every_call_works_in_a_folder_with_dollar_space_quotes_and_accents(cfg: ConfigS3, tmp_path: Path) -> None:
    folder = tmp_path / AWKWARD / "data"
    awkward = derive(cfg, folder=folder)
    write_rows(awkward.dbpath, 3)
    assert awkward.timed_replicate(30, delete=False), "one-shot backup"
    with awkward.replicating(ready_timeout=30) as replication:
        write_rows(awkward.dbpath, 2, start=3)
        assert replication.wait_for_sync(30), "continuous replication"
    assert awkward.replica_contents().latest is not None, "listing"
    elsewhere = derive(cfg, folder=tmp_path / AWKWARD / "restored")
    assert elsewhere.ensure_restored().value == "restored"
    assert [row_id for row_id, _ in read_rows(elsewhere.dbpath)] == list(range(5))
    assert not (Path.home() / "data").exists() and not (Path.home() / "restored").exists(), "nothing went to $HOME"
