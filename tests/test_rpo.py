"""Drill 13, the recovery point: what a crash of the whole process tree loses, measured from outside."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from helpers import derive, record
from rpo import SYNC_INTERVAL, crash_and_restore, summary

from pylts import ConfigS3

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.serial]

#: Kills per litestream line: 3 in the suite; `python3 tasks.py drills` sets 10 for the published figures.
KILLS = int(os.environ.get("PYLTS_TEST_RPO_KILLS", "3"))
#: How far past one sync interval a lost commit may be: the upload of the last sync itself takes time.
UPLOAD_SLACK = 0.5


def test_drill_rpo_whole_tree_killed_under_load(cfg: ConfigS3, tmp_path: Path) -> None:
    """13. SIGKILL of app, pylts and litestream at a random moment: nothing older than one sync interval lost."""
    rng = random.Random()
    replica_folder = cfg.s3.rpartition("/")[0]
    crashes = [
        crash_and_restore(
            derive(cfg, s3=f"{replica_folder}/kill-{kill}.db", folder=tmp_path / f"kill-{kill}" / "data"),
            tmp_path / f"kill-{kill}",
            rng,
        )
        for kill in range(KILLS)
    ]
    record("13. whole tree SIGKILLed under 100 tx/s (RPO)", cfg, summary(crashes))
    oldest = max((age for crash in crashes for age in crash.lost_ages), default=0.0)
    assert oldest <= SYNC_INTERVAL + UPLOAD_SLACK, f"a commit {oldest:.2f} s old was lost: {summary(crashes)}"
