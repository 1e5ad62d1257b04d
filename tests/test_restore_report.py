"""restore_report(), ensure_restored() and the Replicator's start hand back what the restore did."""

from __future__ import annotations

import pytest
from helpers import read_rows, write_rows

from pylts import ConfigS3, RestoreOutcome, RestoreReport

pytestmark = pytest.mark.integration


def backed_up(cfg: ConfigS3, rows: int = 20) -> None:
    write_rows(cfg.dbpath, rows)
    assert cfg.timed_replicate(30)  # the local copy is deleted after a confirmed backup


def test_restore_report_says_what_was_restored(cfg: ConfigS3) -> None:
    backed_up(cfg)
    report = cfg.restore_report(integrity_check="full")
    assert isinstance(report, RestoreReport)
    assert report.db_path == cfg.dbpath and len(read_rows(cfg.dbpath)) == 20
    assert report.integrity_check == "full"
    assert report.duration_ms >= 0
    if not cfg.plan().line.has_txids:
        assert report.txid is None and report.generation and len(report.generation) == 16
    else:
        assert report.generation is None and report.txid_number and report.txid_number >= 1
    assert cfg.restore(overwrite=True) == cfg.dbpath, "the 0.0.9 contract: restore() returns the path"


def test_the_startup_restore_reports_too(cfg: ConfigS3) -> None:
    backed_up(cfg)
    with cfg.replicating() as replication:
        (boot,) = replication.boot_reports
    assert boot.outcome is RestoreOutcome.RESTORED
    assert boot.restore_report is not None and boot.restore_report.db_path == cfg.dbpath
    assert boot.restore_report.txid == boot.replica_position or not cfg.plan().line.has_txids


def test_a_fresh_start_has_no_restore_report(cfg: ConfigS3) -> None:
    report = cfg.ensure_restored()
    assert report.outcome is RestoreOutcome.FRESH and report.restore_report is None
