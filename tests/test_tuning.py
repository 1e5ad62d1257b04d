"""The tuning settings (snapshots, retention, sync, busy-timeout, metrics, heartbeat): checked, rendered per line."""

from __future__ import annotations

import os
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import missing
from pydantic import SecretStr

from pylts import ConfigS3, InvalidArgument, InvalidSettings, Replicator
from pylts.binary import Litestream, Version
from pylts.cli import main, reference_markdown
from pylts.commands import config_yaml
from pylts.lines import Line, line_for
from pylts.tuning import Tuning

REQUIRED: dict[str, Any] = {"key": "AKIAEXAMPLE", "token": "s3cr3t-value", "s3": "s3://backups/app.db", "db": "app.db"}
V05 = line_for(Litestream(Path("/bin/litestream"), Version(0, 5, 17)))


def v03() -> Line:
    """The 0.3 line (built by the tests marked ``line03``, which go with it)."""
    return line_for(Litestream(Path("/bin/litestream"), Version(0, 3, 13)))


EVERYTHING = Tuning(
    snapshot_interval=timedelta(hours=6),
    snapshot_retention=timedelta(days=7),
    l0_retention=timedelta(minutes=10),
    sync_interval=timedelta(seconds=2),
    busy_timeout=timedelta(milliseconds=2500),
    metrics_address="127.0.0.1:9090",
    heartbeat_url=SecretStr("https://hc-ping.com/0b1c"),
    heartbeat_interval=timedelta(minutes=2),
)


def legacy_bin() -> Path:
    legacy = Path(os.environ.get("PYLTS_TEST_LITESTREAM_03", ""))
    if not legacy.name or not legacy.is_file():
        missing("litestream 0.3.13 not found: set PYLTS_TEST_LITESTREAM_03 (python3 tasks.py test does)")
    return legacy


def rendered(ls: Line, tuning: Tuning) -> str:
    return config_yaml(ls, {Path("/srv/app.db"): ConfigS3(**REQUIRED).replica}, tuning=tuning)


@pytest.mark.parametrize(
    ("given", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("24h", 86400), ("7d", 604800), ("500ms", 0.5), (90, 90), ("2.5", 2.5)],
)
def test_durations_are_read_as_users_write_them(given: object, seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ConfigS3(_env_file=None, snapshot_retention=given, **REQUIRED).snapshot_retention == timedelta(
        seconds=seconds
    )
    monkeypatch.setenv("PYLTS_SNAPSHOT_RETENTION", str(given))
    assert ConfigS3(_env_file=None, **REQUIRED).snapshot_retention == timedelta(seconds=seconds)


@pytest.mark.parametrize("given", ["1 hour", "1h-5m", "P1D", "0s", "-30", "h", ""])
def test_a_duration_that_is_not_one_names_the_setting_and_the_form(given: str) -> None:
    with pytest.raises(InvalidSettings, match=r"sync_interval: .*30s, 5m, 1h30m, 24h or 7d, or a number of seconds"):
        ConfigS3.load(_env_file=None, sync_interval=given, **REQUIRED)


@pytest.mark.parametrize("name", [field.name for field in fields(Tuning)])
def test_a_bad_value_is_never_shown(name: str) -> None:
    """A secret pasted into the wrong setting must not reach a log through the error."""
    with pytest.raises(InvalidSettings, match=name) as caught:
        ConfigS3.load(_env_file=None, **{name: "ftp:hunter2-s3cr3t"}, **REQUIRED)
    assert "hunter2" not in str(caught.value)


def test_a_sync_interval_longer_than_pylts_waits_for_is_refused() -> None:
    assert ConfigS3(_env_file=None, sync_interval="10s", **REQUIRED).sync_interval == timedelta(seconds=10)
    with pytest.raises(InvalidSettings, match=r"sync_interval: must be at most 10 s: pylts' waits"):
        ConfigS3.load(_env_file=None, sync_interval="1m", **REQUIRED)


@pytest.mark.parametrize(
    ("given", "address"),
    [
        (9090, "127.0.0.1:9090"),
        ("9090", "127.0.0.1:9090"),
        (":9090", "127.0.0.1:9090"),
        ("0.0.0.0:9090", "0.0.0.0:9090"),
        ("[::1]:9090", "[::1]:9090"),
        ("metrics.internal:9100", "metrics.internal:9100"),
    ],
)
def test_a_metrics_port_alone_is_bound_to_loopback(given: object, address: str) -> None:
    assert ConfigS3(_env_file=None, metrics_address=given, **REQUIRED).metrics_address == address


@pytest.mark.parametrize("given", ["0", "70000", "127.0.0.1", "127.0.0.1:http", ":"])
def test_a_metrics_address_without_a_usable_port_is_refused(given: str) -> None:
    with pytest.raises(InvalidSettings, match=r"metrics_address: .*give a port from 1 to 65535 \(9090, bound to 127"):
        ConfigS3.load(_env_file=None, metrics_address=given, **REQUIRED)


@pytest.mark.parametrize("given", ["ftp://hc-ping.com/x", "hc-ping.com/x", "https://"])
def test_a_heartbeat_url_must_be_http_with_a_host(given: str) -> None:
    with pytest.raises(InvalidSettings, match=r"heartbeat_url: .*must start with http:// or https:// and name a host"):
        ConfigS3.load(_env_file=None, heartbeat_url=given, **REQUIRED)


def test_a_heartbeat_interval_is_a_minute_or_more_and_needs_a_url() -> None:
    with pytest.raises(InvalidSettings, match=r"heartbeat_interval: must be at least 60 s: litestream pings"):
        ConfigS3.load(_env_file=None, heartbeat_interval="30s", heartbeat_url="https://hc-ping.com/0b1c", **REQUIRED)
    with pytest.raises(InvalidSettings, match=r"heartbeat_interval needs heartbeat_url \(PYLTS_HEARTBEAT_URL\)"):
        ConfigS3.load(_env_file=None, heartbeat_interval="2m", **REQUIRED)
    cfg = ConfigS3(_env_file=None, heartbeat_url="https://hc-ping.com/0b1c", heartbeat_interval="2m", **REQUIRED)
    assert cfg.tuning.given() == ["heartbeat_url", "heartbeat_interval"]


def test_a_heartbeat_url_is_a_secret_kept_out_of_reprs_errors_and_configs_for_users() -> None:
    """A ping URL lets anyone ping (or pause) its monitor: only litestream's own private config holds it."""
    ping = "https://hc-ping.com/5e1f-ping-capability"
    cfg = ConfigS3(_env_file=None, heartbeat_url=ping, heartbeat_interval="2m", **REQUIRED)
    shown = [repr(cfg), str(cfg), repr(cfg.tuning), cfg.model_dump_json(), cfg.litestream_config()]
    with pytest.raises(InvalidSettings) as refused:  # a mistake elsewhere in the same settings
        ConfigS3.load(_env_file=None, heartbeat_url=ping, heartbeat_interval="30s", **REQUIRED)
    with pytest.raises(InvalidSettings) as bad_url:
        ConfigS3.load(_env_file=None, heartbeat_url=ping.replace("https", "ftp"), **REQUIRED)
    shown += [str(refused.value), repr(refused.value), str(bad_url.value), repr(bad_url.value)]
    assert not [text for text in shown if "5e1f-ping-capability" in text]
    assert 'heartbeat-url: "${PYLTS_HEARTBEAT_URL}"' in cfg.litestream_config()  # litestream reads it from its env
    assert f'heartbeat-url: "{ping}"' in rendered(V05, cfg.tuning)  # the supervisor's owner-only config
    options = reference_markdown()
    assert "--metrics-address" in options and "--heartbeat-url" not in options, "no secret goes on a command line"


def test_the_tuning_settings_are_read_from_dotenv_and_stay_out_of_the_repr() -> None:
    Path(".env").write_text(
        "LITESTREAM_ACCESS_KEY_ID=AKIAEXAMPLE\nLITESTREAM_SECRET_ACCESS_KEY=s3cr3t-value\nREPLICA_URL=s3://backups/app.db\n"
        "PYLTS_SNAPSHOT_INTERVAL=6h\nPYLTS_SNAPSHOT_RETENTION=7d\nPYLTS_L0_RETENTION=10m\nPYLTS_SYNC_INTERVAL=2s\n"
        "PYLTS_BUSY_TIMEOUT=2500ms\nPYLTS_METRICS_ADDRESS=127.0.0.1:9090\nPYLTS_HEARTBEAT_URL=https://hc-ping.com/0b1c\n"
        "PYLTS_HEARTBEAT_INTERVAL=2m\n"
    )
    cfg = ConfigS3()
    assert cfg.tuning == EVERYTHING
    assert "hc-ping" not in repr(cfg)


def test_litestream_05_gets_every_key_where_it_reads_it() -> None:
    assert rendered(V05, EVERYTHING) == (
        'addr: "127.0.0.1:9090"\n'
        "snapshot:\n"
        '  interval: "21600s"\n'
        '  retention: "604800s"\n'
        'l0-retention: "600s"\n'
        'heartbeat-url: "https://hc-ping.com/0b1c"\n'
        'heartbeat-interval: "120s"\n'
        "dbs:\n"
        '  - path: "/srv/app.db"\n'
        '    busy-timeout: "2500ms"\n'
        "    replica:\n"
        '      type: "s3"\n'
        '      bucket: "backups"\n'
        '      path: "app.db"\n'
        '      sync-interval: "2s"\n'
    )


@pytest.mark.line03
def test_litestream_03_gets_its_own_keys_for_what_it_has() -> None:
    tuning = Tuning(
        snapshot_interval=timedelta(hours=6),
        snapshot_retention=timedelta(days=7),
        sync_interval=timedelta(seconds=2),
        metrics_address="127.0.0.1:9090",
    )
    assert rendered(v03(), tuning) == (
        'addr: "127.0.0.1:9090"\n'
        "dbs:\n"
        '  - path: "/srv/app.db"\n'
        "    replicas:\n"
        '      - type: "s3"\n'
        '        bucket: "backups"\n'
        '        path: "app.db"\n'
        '        sync-interval: "2s"\n'
        '        snapshot-interval: "21600s"\n'
        '        retention: "604800s"\n'
    )


@pytest.mark.parametrize(
    "version", [Version(0, 5, 17), pytest.param(Version(0, 3, 13), marks=pytest.mark.line03)], ids=str
)
def test_nothing_is_added_when_nothing_is_tuned(version: Version) -> None:
    line = line_for(Litestream(Path("/bin/litestream"), version))
    assert rendered(line, Tuning()) == config_yaml(line, {Path("/srv/app.db"): ConfigS3(**REQUIRED).replica})
    assert "interval" not in rendered(line, Tuning())


@pytest.mark.line03
@pytest.mark.parametrize(
    "setting",
    [{"l0_retention": "10m"}, {"busy_timeout": "2s"}, {"heartbeat_url": "https://hc-ping.com/0b1c"}],
)
def test_litestream_03_refuses_what_it_lacks_before_anything_is_written(
    setting: dict[str, str], tmp_path: Path
) -> None:
    (name,) = setting
    settings = {**REQUIRED, "folder": tmp_path / "data", "litestream_bin": legacy_bin(), **setting}
    cfg = ConfigS3(_env_file=None, **settings)
    expected = rf"{name}: litestream v?0\.3\.13 has no such setting: unset it, or use litestream 0\.5"
    with pytest.raises(InvalidSettings, match=expected):
        cfg.litestream_config()
    with pytest.raises(InvalidSettings, match=expected):
        cfg.replicating().start()
    with pytest.raises(InvalidSettings, match=expected):
        cfg.restore()
    assert not (tmp_path / "data").exists()


def test_databases_replicated_together_must_share_their_tuning(tmp_path: Path) -> None:
    first = ConfigS3(_env_file=None, **{**REQUIRED, "db": "one.db"}, folder=tmp_path, sync_interval="2s")
    second = ConfigS3(_env_file=None, **{**REQUIRED, "db": "two.db"}, folder=tmp_path)
    with pytest.raises(InvalidArgument, match="share one litestream config: give them the same snapshot"):
        Replicator([first, second])
    pinged = ConfigS3(_env_file=None, **{**REQUIRED, "db": "two.db"}, folder=tmp_path, heartbeat_url="https://a.test/1")
    with pytest.raises(InvalidArgument, match="same snapshot, retention, sync, busy-timeout, metrics and heartbeat"):
        Replicator([second, pinged])  # said as the setting it is, though the URL is also kept as a secret


def test_the_cli_takes_the_tuning_settings_as_flags(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["config", "--replica-url", "s3://backups/app.db", "--db", "app.db", "--use-aws-credential-chain"]
    assert main([*args, "--sync-interval", "2s", "--metrics-address", "9100", "--snapshot-retention", "7d"]) == 0
    printed = capsys.readouterr().out
    assert (
        'addr: "127.0.0.1:9100"' in printed and 'retention: "604800s"' in printed and 'sync-interval: "2s"' in printed
    )
    assert main([*args, "--sync-interval", "1 minute"]) == 2
    assert "sync_interval: not a duration" in capsys.readouterr().err
