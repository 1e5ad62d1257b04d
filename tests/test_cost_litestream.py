"""The low-cost profile with the real litestream on moto: it reaches litestream's config, and nothing is lost."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time

import pytest
from helpers import derive, kill_litestream, pylts_log, wait_until, write_rows

from pylts import ConfigS3, InvalidSettings

pytestmark = pytest.mark.integration


def rows(db: object) -> set[int]:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM items")}


@pytest.mark.long
def test_the_low_cost_profile_replicates_through_a_kill_and_restores_every_acknowledged_write(
    cfg: ConfigS3,
) -> None:
    low = derive(cfg, cost_profile="low")
    try:
        low.plan()
    except InvalidSettings as refused:  # a line without the key: refused by name, before anything runs
        assert "PYLTS_COST_PROFILE=low tunes l0_retention_check_interval" in str(refused)
        assert "l0_retention_check_interval" not in cfg.plan().line.tunable
        return
    printed: list[str] = []
    acknowledged: set[int] = set()
    with pylts_log(lambda record: printed.append(record.getMessage())), low.replicating() as replication:
        started, killed = time.monotonic(), False
        while time.monotonic() - started < 65:
            write_rows(low.dbpath, 1, start=len(acknowledged))
            acknowledged.add(len(acknowledged))
            if not killed and time.monotonic() - started > 30:
                kill_litestream(replication)
                killed = True
            time.sleep(0.5)
        assert wait_until(lambda: replication.wait_for_sync(10), 60)
    text = "\n".join(printed)
    assert re.search(r"starting L0 retention monitor\".*interval=5m0s", text), "the profile did not reach litestream"
    restored = derive(low, folder=low.folder.parent / "restored")
    restored.restore()
    assert rows(restored.dbpath) == acknowledged
