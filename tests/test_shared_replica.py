"""Two machines replicating to one replica URL: what is lost, and where pylts sees it.

litestream does not notice a second writer on the same replica path: each process keeps its
own idea of the replica's position. These tests play two machines (two folders) on one URL.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers import derive, read_rows, record, write_rows

from pylts import ConfigS3, ForeignDatabase, PyltsError

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.serial]

SECONDS = 10


def restored_rows(cfg: ConfigS3, tmp_path: Path) -> set[int]:
    """The row ids a fresh machine gets when it restores the replica."""
    fresh = derive(cfg, folder=tmp_path / "fresh")
    fresh.restore()
    return {row_id for row_id, _ in read_rows(fresh.dbpath)}


def test_a_second_machine_with_its_own_database_is_refused_at_boot(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 5)
    other = derive(cfg, folder=tmp_path / "machine-b")
    write_rows(other.dbpath, 3, start=1_000)
    with cfg.replicating() as a:
        with pytest.raises(ForeignDatabase, match="is not from the history of its replica"), other.replicating():
            pytest.fail("machine B must not replicate its own database over A's replica")
        write_rows(cfg.dbpath, 1, start=5)
        assert a.wait_for_sync(30), "machine A carried on"
    assert restored_rows(cfg, tmp_path) == set(range(6))
    assert len(read_rows(other.dbpath)) == 3, "B's own copy was left as it was"


def test_drill_two_machines_on_one_replica_url(cfg: ConfigS3, tmp_path: Path) -> None:
    """An overlapping deploy across machines: B boots on a fresh volume while A still runs."""
    write_rows(cfg.dbpath, 1)
    other = derive(cfg, folder=tmp_path / "machine-b")
    with cfg.replicating() as a:
        assert a.wait_for_sync(30)
        with other.replicating() as b:
            assert [row_id for row_id, _ in read_rows(other.dbpath)] == [0], "B restored A's copy at boot"
            for second in range(SECONDS):
                write_rows(cfg.dbpath, 1, start=1 + second)
                write_rows(other.dbpath, 1, start=1_000 + second)
                time.sleep(1)
            synced = a.wait_for_sync(10), b.wait_for_sync(10)
            errors = [status.last_error for status in (a.status(), b.status()) if status.last_error]
    rows = restored_rows(cfg, tmp_path)
    from_a, from_b = {i for i in rows if 0 < i < 1_000}, {i for i in rows if i >= 1_000}
    assert 0 in rows
    assert not (from_a and from_b), "a restore holds one machine's history, never a mix"
    kept = "A's" if from_a else "B's"
    assert len(from_a | from_b) == SECONDS, f"the replica holds all of {kept} rows and none of the other's"
    # What neither side can see while it runs (docs/guides/deploying-safely.md): both believe they are in sync.
    assert synced == (True, True) and not errors, "if this fails, pylts now detects the overlap: update the docs"
    loser = other if from_a else cfg
    try:
        loser.ensure_restored()
        next_boot = "boots on its own copy"
    except PyltsError as refused:
        next_boot = f"is refused ({type(refused).__name__})"
    record(
        "12. two machines on one replica URL",
        cfg,
        f"both in sync with no error for {SECONDS} s; a restore holds {kept} {SECONDS} rows and none of the "
        f"other's {SECONDS}; at its next boot the machine whose rows were lost {next_boot}",
    )
