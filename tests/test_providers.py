"""Provider presets: what each store gets on each litestream line, what wins over them, the docs page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import read_rows, write_rows

from pylts import ConfigS3, InvalidSettings
from pylts.binary import Litestream, Version
from pylts.commands import config_yaml
from pylts.lines import line_for
from pylts.providers import PRESETS, example_env, reference_markdown
from pylts.replica import parse_replica_url
from pylts.testing import LocalS3

ROOT = Path(__file__).resolve().parent.parent
NEW = line_for(Litestream(Path("/bin/litestream"), Version(0, 5, 17)))
BASE: dict[str, Any] = {"key": "k", "token": "t", "s3": "s3://my-bucket/app.db", "_env_file": None}

#: What each store needs, from litestream's docs/PROVIDER_COMPATIBILITY.md, written out by hand:
#: settings given, then endpoint, region, path style, and the 0.5-only options.
EXPECTED: dict[str, tuple[dict[str, Any], str | None, str | None, bool, dict[str, Any]]] = {
    "aws": ({}, None, None, False, {}),
    "r2": (
        {"account_id": "abc123"},
        "https://abc123.r2.cloudflarestorage.com",
        "auto",
        True,
        {"sign-payload": True, "concurrency": 2},
    ),
    "b2": (
        {"region": "us-west-004"},
        "https://s3.us-west-004.backblazeb2.com",
        "us-west-004",
        True,
        {"sign-payload": True},
    ),
    "tigris": (
        {},
        "https://fly.storage.tigris.dev",
        "auto",
        True,
        {"sign-payload": True, "require-content-md5": False},
    ),
    "minio": (
        {"endpoint": "http://10.0.0.5:9000"},
        "http://10.0.0.5:9000",
        "us-east-1",
        True,
        {"sign-payload": True},
    ),
    "hetzner": (
        {"region": "hel1"},
        "https://hel1.your-objectstorage.com",
        "hel1",
        True,
        {"sign-payload": True},
    ),
    "digitalocean": (
        {"region": "ams3"},
        "https://ams3.digitaloceanspaces.com",
        "ams3",
        False,
        {"sign-payload": True},
    ),
    "wasabi": ({"region": "eu-central-2"}, "https://s3.eu-central-2.wasabisys.com", "eu-central-2", True, {}),
    "scaleway": ({"region": "nl-ams"}, "https://s3.nl-ams.scw.cloud", "nl-ams", True, {"sign-payload": True}),
}


def test_every_preset_is_checked_here() -> None:
    assert set(PRESETS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_litestream_05_gets_everything_the_store_needs(name: str) -> None:
    given, endpoint, region, path_style, options = EXPECTED[name]
    replica = ConfigS3(**BASE, provider=name, **given).replica
    entry = replica.config_entry()
    assert (entry.get("endpoint"), entry.get("region"), entry.get("force-path-style", False)) == (
        endpoint,
        region,
        path_style,
    )
    assert {key: entry[key] for key in entry if key in ("sign-payload", "concurrency", "require-content-md5")} == (
        options
    )
    assert parse_replica_url(replica.url()).config_entry() == entry  # the URL says the same


@pytest.mark.line03
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_litestream_03_gets_only_the_keys_it_reads(name: str) -> None:
    given, endpoint, region, path_style, _ = EXPECTED[name]
    cfg = ConfigS3(**BASE, provider=name, **given)
    entry = cfg.replica.config_entry(legacy=True)
    assert set(entry) <= {"type", "bucket", "path", "endpoint", "region", "force-path-style"}
    assert (entry.get("endpoint"), entry.get("region"), entry.get("force-path-style", False)) == (
        endpoint,
        region,
        path_style,
    )
    text = config_yaml(line_for(Litestream(Path("/bin/litestream"), Version(0, 3, 13))), {cfg.dbpath: cfg.replica})
    assert "sign-payload" not in text and "concurrency" not in text and "require-content-md5" not in text


def test_r2_limits_upload_concurrency_on_litestream_05_command_line() -> None:
    cfg = ConfigS3(**BASE, provider="r2", account_id="abc123")
    url = NEW.replicate_argv(cfg.dbpath, cfg.replica)[-1]
    assert "concurrency=2" in url and "signPayload=true" in url and "region=auto" in url


def test_provider_names_are_read_in_any_case() -> None:
    assert ConfigS3(**BASE, provider=" Tigris ").provider == "tigris"


@pytest.mark.parametrize(
    ("given", "wins"),
    [
        ({"endpoint": "https://eu.r2.cloudflarestorage.com"}, ("endpoint", "https://eu.r2.cloudflarestorage.com")),
        ({"region": "weur"}, ("region", "weur")),
        ({"force_path_style": False}, ("force-path-style", False)),
        ({"s3": "s3://my-bucket/app.db?concurrency=1"}, ("concurrency", 1)),
        ({"s3": "s3://my-bucket/app.db?signPayload=false"}, ("sign-payload", False)),
    ],
)
def test_explicit_settings_win_over_the_preset(given: dict[str, Any], wins: tuple[str, object]) -> None:
    values = {**BASE, "provider": "r2", "account_id": "abc123", **given}
    entry = ConfigS3(**values).replica.config_entry()
    assert entry[wins[0]] == wins[1]


def test_an_unknown_provider_lists_the_known_ones() -> None:
    with pytest.raises(InvalidSettings) as caught:
        ConfigS3.load(**BASE, provider="cloudflare")
    message = str(caught.value)
    assert "unknown provider 'cloudflare'" in message
    assert all(name in message for name in PRESETS)


@pytest.mark.parametrize(
    ("provider", "hint"),
    [
        ("r2", "set REPLICA_ACCOUNT_ID, or give the endpoint in REPLICA_ENDPOINT"),
        ("hetzner", "set REPLICA_REGION (e.g. fsn1), or give the endpoint in REPLICA_ENDPOINT"),
        ("b2", "set REPLICA_REGION (e.g. us-west-004)"),
        ("minio", "set REPLICA_ENDPOINT to its address"),
    ],
)
def test_a_missing_endpoint_part_says_which_setting_to_give(provider: str, hint: str) -> None:
    with pytest.raises(InvalidSettings, match=r"provider \w+ needs") as caught:
        ConfigS3.load(**BASE, provider=provider)
    assert hint in str(caught.value)


@pytest.mark.parametrize(
    "given", [{"region": "fsn1.evil.example/x"}, {"region": "user@host"}, {"account_id": "abc.def", "provider": "r2"}]
)
def test_an_endpoint_is_built_only_from_plain_names(given: dict[str, Any]) -> None:
    with pytest.raises(InvalidSettings, match="letters, digits and hyphens only"):
        ConfigS3.load(**{**BASE, "provider": "hetzner", **given})


def test_an_explicit_endpoint_needs_no_account_id() -> None:
    cfg = ConfigS3(**BASE, provider="r2", endpoint="https://abc.r2.cloudflarestorage.com")
    assert cfg.replica.config_entry()["concurrency"] == 2


def test_a_preset_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICA_PROVIDER", "scaleway")
    monkeypatch.setenv("REPLICA_REGION", "pl-waw")
    assert ConfigS3(key="k", token="t", s3="s3://b/a.db").replica.endpoint == "https://s3.pl-waw.scw.cloud"


def test_path_style_turned_off_reaches_litestream_05() -> None:
    """Unsaid, litestream 0.5 turns path style on for any host:port endpoint (its MinIO detection)."""
    url = parse_replica_url("s3://b/a.db?endpoint=http://127.0.0.1:9000&forcePathStyle=false").url()
    assert "forcePathStyle=false" in url


@pytest.mark.parametrize("value", ["many", "0", "-1", "2.5", ""])
def test_a_concurrency_that_is_not_a_positive_number_is_refused(value: str) -> None:
    with pytest.raises(InvalidSettings, match=f"concurrency={value!r} must be a positive whole number"):
        ConfigS3.load(**{**BASE, "s3": f"s3://my-bucket/app.db?concurrency={value}"})


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_the_documented_env_file_loads(name: str, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(example_env(PRESETS[name])).replace("=...", "=x") + "\n")
    cfg = ConfigS3.load(_env_file=env_file)
    assert cfg.provider == name
    assert f"`{name}`" in reference_markdown()


def test_the_providers_page_is_current() -> None:
    page = (ROOT / "docs" / "providers.md").read_text()
    assert page == reference_markdown(), "regenerate docs/providers.md from pylts.providers.reference_markdown()"


@pytest.mark.integration
def test_a_minio_preset_round_trips_a_backup(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path
) -> None:
    """The minio preset (path style, signed payloads) against moto, on each litestream line."""
    cfg = local_s3.config(
        bucket,
        "app.db",
        provider="minio",
        region=None,
        folder=tmp_path / "data",
        db="app.db",
        litestream_bin=litestream_bin,
    )
    assert cfg.replica.path_style and cfg.replica.region == "us-east-1"
    cfg.folder.mkdir()
    write_rows(cfg.dbpath, 500)
    assert cfg.timed_replicate(60)
    assert not cfg.dbpath.exists()
    cfg.restore()
    assert len(read_rows(cfg.dbpath)) == 500


@pytest.mark.integration
def test_an_upload_concurrency_limit_works_in_litestreams_config_file(
    local_s3: LocalS3, bucket: str, litestream_bin: Path, tmp_path: Path
) -> None:
    """Continuous replication runs litestream from a config file: R2's concurrency=2 must be a YAML number there."""
    cfg = local_s3.config(
        bucket,
        "app.db",
        s3=f"s3://{bucket}/app.db?concurrency=2",
        provider="minio",
        region=None,
        folder=tmp_path / "data",
        db="app.db",
        litestream_bin=litestream_bin,
    )
    cfg.folder.mkdir()
    write_rows(cfg.dbpath, 50)
    with cfg.replicating(ready_timeout=60) as replication:
        write_rows(cfg.dbpath, 50, start=50)
        assert replication.wait_for_sync(30)
    cfg.delete()
    cfg.restore()
    assert len(read_rows(cfg.dbpath)) == 100
