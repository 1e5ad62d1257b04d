"""A day of production, compressed: a steady writer, intermittent faults, and health() checked against a restore.

Each time health() says `CaughtUp`, a restore of the replica made then must hold every row
committed more than the `Behind` threshold earlier; each fault must show as the state it is.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import derive, read_rows, write_rows

from benchmarks.harness import writer
from pylts import Behind, CaughtUp, ConfigS3, Failing, Replicator, Restarting
from pylts.health import DatabaseHealth
from pylts.testing import LocalS3
from pylts.timing import BEHIND_SECONDS

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.serial]
LOAD = "INSERT INTO items (id, body) VALUES (?, 'under load')"


def first_state(
    replication: Replicator, wanted: Callable[[DatabaseHealth], bool], within: float, every: float = 0.25
) -> tuple[DatabaseHealth, float]:
    """The first health() of the database that is as ``wanted`` (else the last one after ``within`` s), and when."""
    started = time.monotonic()
    state = replication.health()[0]
    while not wanted(state) and time.monotonic() - started < within:
        time.sleep(every)
        state = replication.health()[0]
    return state, time.monotonic() - started


class Day:
    """The replication under test, its writer's committed rows, and what was found at each check."""

    def __init__(self, cfg: ConfigS3, replication: Replicator, committed: list[int], folder: Path) -> None:
        self.cfg, self.replication, self.committed, self.folder = cfg, replication, committed, folder
        self.log: list[str] = []
        self.copies = 0

    def steady(self, what: str, seconds: float) -> None:
        """Only CaughtUp for ``seconds``; then a restore holds every row committed a threshold before."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            state = self.replication.health()[0]
            assert isinstance(state, CaughtUp), (what, state, self.replication.status())
            time.sleep(0.5)
        held_before = len(self.committed)
        time.sleep(BEHIND_SECONDS + 0.5)
        state = self.replication.health()[0]
        assert isinstance(state, CaughtUp), (what, state)
        self.copies += 1
        copy = derive(self.cfg, folder=self.folder / f"copy-{self.copies}")
        copy.restore()
        restored = {row_id for row_id, _ in read_rows(copy.dbpath)}
        missing = set(self.committed[:held_before]) - restored
        assert not missing, f"{what}: health() said CaughtUp, the replica lacks {len(missing)} rows"
        self.log.append(f"{what}: CaughtUp, a restore held the {held_before} rows committed before")

    def becomes(self, what: str, kind: type, within: float) -> float:
        state, took = first_state(self.replication, lambda state: isinstance(state, kind), within)
        assert isinstance(state, kind), (what, state, self.replication.status())
        self.log.append(f"{what}: {kind.__name__} after {took:.1f} s")
        return took

    def kill(self) -> None:
        pid = self.replication.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        state, _ = first_state(self.replication, lambda state: isinstance(state, Restarting), 5, every=0.02)
        assert isinstance(state, Restarting) and "killed by SIGKILL" in state.error, state
        self.log.append(f"kill -9: Restarting in {state.restart_in} s")


@pytest.mark.long
def test_a_day_of_production_health_tracks_the_truth(cfg: ConfigS3, local_s3: LocalS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 1)
    with (
        cfg.replicating(stop_timeout=10) as replication,
        writer(cfg.dbpath, LOAD, per_second=2) as committed,
    ):
        day = Day(cfg, replication, committed, tmp_path)
        assert replication.wait_for_sync(30)
        day.steady("morning", 10)
        local_s3.require_auth(True)  # a rotated key, the old one revoked
        try:
            day.becomes("credentials refused", Failing, 30)
            time.sleep(5)
        finally:
            local_s3.require_auth(False)
        assert day.becomes("credentials fixed", CaughtUp, 30) < 30
        day.steady("after the key rotation", 8)
        for _ in range(2):
            day.kill()
            day.becomes("after the restart", CaughtUp, 15)
            day.steady("between kills", 5)
        local_s3.stop()  # the store goes away for a while
        try:
            day.becomes("store down", Behind, 20)
            time.sleep(5)
        finally:
            local_s3.start()
        assert day.becomes("store back", CaughtUp, 30) < 30
        day.steady("evening", 8)
    final = derive(cfg, folder=tmp_path / "final")
    final.restore()
    restored = {row_id for row_id, _ in read_rows(final.dbpath)}
    assert set(committed) <= restored, f"{len(set(committed) - restored)} committed rows missing at the end"
    print("\n".join([*day.log, f"end: {len(committed)} rows committed, all restored"]))
