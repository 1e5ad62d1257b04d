"""One writer per database on a machine: a second replicator fails at once, naming the first."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest
from helpers import read_rows, record, write_rows

from pylts import AlreadyReplicating, ConfigS3

pytestmark = pytest.mark.integration

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from pylts.sqlite_files import replication_lock
    with replication_lock(Path(sys.argv[1])):
        print("held", flush=True)
        sys.stdin.read()
    """
)


def test_a_backup_while_another_process_replicates_fails_at_once(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 10)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(cfg.dbpath)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyReplicating, match=f"already being replicated by process {holder.pid}") as refused:
            cfg.timed_replicate(30)
        assert refused.value.pid == holder.pid
        assert len(read_rows(cfg.dbpath)) == 10, "nothing deleted"
        assert cfg.replica_contents().empty, "nothing uploaded"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        if holder.stdout:
            holder.stdout.close()
    assert cfg.timed_replicate(30) is True, "the lock went away with its holder"


def test_drill_overlapping_deploy_a_second_replicator_fails_at_once(cfg: ConfigS3) -> None:
    write_rows(cfg.dbpath, 10)
    with cfg.replicating() as replication:
        started = time.monotonic()
        with pytest.raises(AlreadyReplicating, match=f"by process {os.getpid()}"), cfg.replicating():
            pytest.fail("a second replicator must not start")
        refused_in = time.monotonic() - started
        with pytest.raises(AlreadyReplicating):
            cfg.timed_replicate(30)
        write_rows(cfg.dbpath, 1, start=10)
        assert replication.wait_for_sync(30), "the first one carried on"
    assert cfg.timed_replicate(30, delete=False), "stop() let the lock go"
    record(
        "10. overlapping deploy on one machine",
        cfg,
        f"a second replicator refused in {refused_in * 1000:.0f} ms (AlreadyReplicating, naming the first's pid); "
        "the first kept replicating",
    )
