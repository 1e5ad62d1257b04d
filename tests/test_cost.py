"""PYLTS_COST_PROFILE: what the low-cost profile tells litestream and pylts, what wins over it, where it is refused."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from pylts import ConfigS3, InvalidSettings
from pylts.binary import Litestream, Version
from pylts.commands import config_yaml
from pylts.lines import Line, line_for, registered

LINE05 = line_for(Litestream(Path("/bin/litestream"), Version(0, 5, 17)))
#: Every registered line at its oldest release: the copy of pylts without 0.3 runs this file too.
LINES = [line(Litestream(Path("/bin/litestream"), line.oldest)) for line in registered().values()]


def settings(**values: str) -> ConfigS3:
    return ConfigS3(key="k", token="t", s3="s3://bkt/app.db", folder="/srv", _env_file=None, **values)


def test_the_low_profile_lists_the_store_every_five_minutes() -> None:
    cfg = settings(cost_profile="low")
    assert cfg.tuning.l0_retention_check_interval == timedelta(minutes=5)
    assert cfg.replica_check_seconds() == 300
    text = config_yaml(LINE05, {cfg.dbpath: cfg.replica}, tuning=cfg.tuning)
    assert 'l0-retention-check-interval: "300s"' in text
    assert "sync-interval" not in text  # what a crash can lose stays as it was


def test_the_default_profile_changes_nothing() -> None:
    cfg = settings()
    assert cfg.tuning.given() == [] and cfg.replica_check_seconds() is None
    assert "l0-retention-check-interval" not in config_yaml(LINE05, {cfg.dbpath: cfg.replica}, tuning=cfg.tuning)


def test_settings_given_explicitly_win_over_the_profile() -> None:
    cfg = settings(cost_profile="low", l0_retention_check_interval="1m", replica_check_interval="off")
    assert cfg.tuning.l0_retention_check_interval == timedelta(minutes=1)
    assert cfg.replica_check_seconds() == 0  # off stays off


def test_an_unknown_profile_is_refused_with_the_choices() -> None:
    with pytest.raises(InvalidSettings, match=r"cost_profile.*'default' or 'low'"):
        ConfigS3.load(key="k", token="t", s3="s3://bkt/app.db", cost_profile="cheap", _env_file=None)


@pytest.mark.parametrize("line", LINES, ids=lambda line: str(line.oldest))
def test_a_line_without_the_keys_refuses_the_profile_by_name(line: Line) -> None:
    settings().check_cost_profile(line)
    if "l0_retention_check_interval" in line.tunable:
        settings(cost_profile="low").check_cost_profile(line)
    else:
        with pytest.raises(InvalidSettings, match=r"PYLTS_COST_PROFILE=low tunes l0_retention_check_interval"):
            settings(cost_profile="low").check_cost_profile(line)
