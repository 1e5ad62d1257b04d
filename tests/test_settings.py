"""ConfigS3: where values come from, what is validated, and what is never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pylts import ConfigS3, InvalidSettings

KEY, SECRET = "AKIAKEYFORSETTINGS01", "settings-secret-value-42"
BASE: dict[str, Any] = {"key": KEY, "token": SECRET, "s3": "s3://bkt/app.db"}


def messages(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return " | ".join(error["msg"] for error in exc.value.errors())


def test_reads_the_old_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITESTREAM_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("LITESTREAM_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("REPLICA_URL", "s3://bkt/app.db")
    monkeypatch.setenv("DB_SQLITE", "app.sqlite3")
    cfg = ConfigS3()
    assert cfg.key is not None and cfg.key.get_secret_value() == KEY
    assert cfg.token is not None and cfg.token.get_secret_value() == SECRET
    assert (cfg.s3, cfg.db) == ("s3://bkt/app.db", "app.sqlite3")


def test_reads_dotenv_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"LITESTREAM_ACCESS_KEY_ID={KEY}\nLITESTREAM_SECRET_ACCESS_KEY={SECRET}\nREPLICA_URL=s3://from-dotenv/app.db\n"
        "REPLICA_ENDPOINT=http://127.0.0.1:9000\nOTHER_APP_SETTING=ignored\n"
    )
    cfg = ConfigS3()
    assert cfg.s3 == "s3://from-dotenv/app.db"
    assert cfg.replica.endpoint == "http://127.0.0.1:9000"


def test_another_env_file_per_instance(tmp_path: Path) -> None:
    other = tmp_path / "prod.env"
    other.write_text(
        f"LITESTREAM_ACCESS_KEY_ID={KEY}\nLITESTREAM_SECRET_ACCESS_KEY={SECRET}\nREPLICA_URL=s3://prod/app.db\n"
    )
    assert ConfigS3(_env_file=other).s3 == "s3://prod/app.db"


def test_several_env_files_the_later_wins_and_none_reads_no_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("REPLICA_URL=s3://from-dotenv/app.db\n")
    base, override = tmp_path / "base.env", tmp_path / "override.env"
    base.write_text(
        f"LITESTREAM_ACCESS_KEY_ID={KEY}\nLITESTREAM_SECRET_ACCESS_KEY={SECRET}\nREPLICA_URL=s3://a/app.db\n"
    )
    override.write_text("replica_url=s3://b/app.db\nDB_SQLITE=\nSECRET_KEY=the-app's-own\n")  # any case, as env vars
    cfg = ConfigS3(_env_file=[base, override, tmp_path / "missing.env"])
    assert (cfg.s3, cfg.db) == ("s3://b/app.db", "db.sqlite")  # the empty DB_SQLITE= is unset, not ""
    assert ConfigS3(_env_file=None, **BASE).s3 == "s3://bkt/app.db"
    with pytest.raises(ValidationError, match="REPLICA_URL"):
        ConfigS3(_env_file=None, key=KEY, token=SECRET)  # .env in the working directory is not read


def test_keyword_arguments_beat_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICA_URL", "s3://from-env/app.db")
    assert ConfigS3(**BASE).s3 == "s3://bkt/app.db"


def test_repr_shows_only_url_and_db_like_the_old_api() -> None:
    cfg = ConfigS3(key="xxx", token="yyy", s3="s3://x/x.db")
    assert repr(cfg) == "ConfigS3(s3='s3://x/x.db', db='db.sqlite')"


def test_secrets_never_shown() -> None:
    cfg = ConfigS3(**BASE, endpoint="http://127.0.0.1:9000")
    shown = " ".join(
        [repr(cfg), str(cfg), repr(cfg.key), repr(cfg.token), cfg.model_dump_json(), repr(cfg.model_dump())]
    )
    assert KEY not in shown and SECRET not in shown
    assert "endpoint='http://127.0.0.1:9000'" in repr(cfg)


def test_default_folder_is_data_under_the_working_directory_and_not_created(tmp_path: Path) -> None:
    cfg = ConfigS3(**BASE)
    assert cfg.folder == tmp_path / "data"
    assert cfg.dbpath == tmp_path / "data" / "db.sqlite"
    assert not (tmp_path / "data").exists()


def test_relative_folder_is_made_absolute(tmp_path: Path) -> None:
    assert ConfigS3(**BASE, folder="var/db").folder == tmp_path / "var" / "db"


@pytest.mark.parametrize("db", ["db.sqlite", "app.db", "app.sqlite3", "APP.DB", "my-app_2.Sqlite", "a.b.db"])
def test_accepted_db_names(db: str) -> None:
    assert ConfigS3(**BASE, db=db).dbpath.name == db


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("a/../../x.db", "plain file name"),
        ("../x.db", "plain file name"),
        ("/etc/x.db", "plain file name"),
        ("sub/x.db", "plain file name"),
        ("sub\\x.db", "plain file name"),
        ("", "plain file name"),
        ("app.txt", "must end in .db, .sqlite or .sqlite3"),
        ("app", "must end in .db, .sqlite or .sqlite3"),
        ("app.db-wal", "must end in"),
    ],
)
def test_refused_db_names(db: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigS3(**BASE, db=db)
    assert message in messages(caught)


def test_missing_credentials_name_both_variables() -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigS3(s3="s3://bkt/app.db")
    text = messages(caught)
    assert "LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY" in text
    assert "PYLTS_AWS_CREDENTIAL_CHAIN" in text


def test_missing_secret_alone_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigS3(key=KEY, s3="s3://bkt/app.db")
    assert "set LITESTREAM_SECRET_ACCESS_KEY (" in messages(caught)


def test_credential_chain_is_an_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYLTS_AWS_CREDENTIAL_CHAIN", "true")
    cfg = ConfigS3(s3="s3://bkt/app.db")
    assert cfg.use_aws_credential_chain and cfg.key is None


def test_missing_url_is_named() -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigS3(key=KEY, token=SECRET)
    assert "REPLICA_URL" in str(caught.value)


def test_endpoint_settings_reach_the_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICA_ENDPOINT", "https://acct.r2.cloudflarestorage.com/")
    monkeypatch.setenv("REPLICA_REGION", "auto")
    replica = ConfigS3(**BASE).replica
    assert (replica.endpoint, replica.region, replica.path_style) == (
        "https://acct.r2.cloudflarestorage.com",
        "auto",
        True,
    )


def test_path_style_can_be_turned_off_for_virtual_host_stores() -> None:
    assert ConfigS3(**BASE, endpoint="https://s3.example.com", force_path_style=False).replica.path_style is False


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"endpoint": "127.0.0.1:9000"}, "must be an http:// or https:// URL"),
        ({"s3": "s3://bkt/app.db?endpoint=http://a:1", "endpoint": "http://b:2"}, "endpoint is given twice"),
        ({"s3": "gs://bkt/app.db"}, "must start with s3://"),
    ],
)
def test_refused_replica_settings(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigS3(**{**BASE, **settings})
    assert message in messages(caught)


def test_construction_writes_nothing(tmp_path: Path) -> None:
    ConfigS3(**BASE, folder=tmp_path / "nested" / "folder")
    assert list(tmp_path.iterdir()) == []


ROOT = Path(__file__).resolve().parent.parent


def filled_env_example(folder: Path) -> Path:
    """``.env.example`` as shipped, with only the two credentials and REPLICA_URL filled in."""
    filled = {"LITESTREAM_ACCESS_KEY_ID": KEY, "LITESTREAM_SECRET_ACCESS_KEY": SECRET, "REPLICA_URL": "s3://bkt/app.db"}
    lines = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={filled[name]}" if name in filled else line)
    target = folder / ".env"
    target.write_text("\n".join(lines) + "\n")
    return target


def test_env_example_filled_in_as_told_loads(tmp_path: Path) -> None:
    filled_env_example(tmp_path)
    cfg = ConfigS3()
    assert (cfg.s3, cfg.db, cfg.folder) == ("s3://bkt/app.db", "db.sqlite", tmp_path / "data")
    assert cfg.key is not None and cfg.key.get_secret_value() == KEY
    assert (cfg.endpoint, cfg.region, cfg.force_path_style, cfg.litestream_bin) == (None, None, None, None)
    assert cfg.replica.address() == ("s3.amazonaws.com", 443)


def test_an_empty_environment_variable_does_not_beat_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``docker run -e REPLICA_ENDPOINT=`` or systemd's ``Environment=`` must not point the backup at AWS."""
    (tmp_path / ".env").write_text(
        f"LITESTREAM_ACCESS_KEY_ID={KEY}\nLITESTREAM_SECRET_ACCESS_KEY={SECRET}\nREPLICA_URL=s3://bkt/app.db\n"
        "REPLICA_ENDPOINT=http://127.0.0.1:9000\nREPLICA_FORCE_PATH_STYLE=true\n"
    )
    for name in ("REPLICA_ENDPOINT", "REPLICA_FORCE_PATH_STYLE", "LITESTREAM_BIN", "LITESTREAM_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "")
    cfg = ConfigS3()
    assert cfg.replica.address() == ("127.0.0.1", 9000)
    assert cfg.force_path_style is True and cfg.litestream_bin is None
    assert cfg.token is not None and cfg.token.get_secret_value() == SECRET


@pytest.mark.parametrize(
    "settings",
    [
        {"s3": f"s3://{KEY}:{SECRET}@bkt/app.db"},
        {"endpoint": f"https://{KEY}:{SECRET}@minio.example.com"},
        {"s3": f"s3://bkt/app.db?endpoint=https://{KEY}:{SECRET}@minio.example.com"},
        {"s3": f"s3://bkt/app.db?endpoint=https%3A%2F%2F{KEY}%3A{SECRET}%40minio.example.com"},
        {"endpoint": f"{KEY}:{SECRET}@minio.example.com:9000"},
    ],
    ids=["url", "endpoint", "endpoint-in-url", "endpoint-in-url-encoded", "endpoint-without-scheme"],
)
def test_credentials_in_a_url_are_refused_and_never_echoed(settings: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigS3(**{**BASE, **settings})
    assert "must not carry credentials" in messages(caught)
    shown = f"{caught.value!s} {caught.value!r} {caught.value.json(include_input=False)}"
    assert SECRET not in shown and KEY not in shown


def test_validation_errors_never_echo_the_values_given() -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigS3(key=KEY, token=SECRET, s3="s3://bkt/app.db", force_path_style=f"{SECRET}-not-a-bool")
    assert "force_path_style" in str(caught.value)
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_load_raises_a_pylts_error_naming_each_setting_without_its_value() -> None:
    from pylts.errors import InvalidSettings, PyltsError

    with pytest.raises(InvalidSettings) as caught:
        ConfigS3.load(key=KEY, token=SECRET, s3=f"gs://{SECRET}/app.db", db="../app.db")
    assert isinstance(caught.value, PyltsError) and isinstance(caught.value, ValueError)
    assert [setting for setting, _ in caught.value.problems] == ["s3", "db"]
    assert "must start with s3://" in str(caught.value) and "db must be a plain file name" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert ConfigS3.load(**BASE) == ConfigS3(**BASE)


@pytest.mark.parametrize("quoted", ["{}", "'{}'", '"{}"'])
def test_secrets_in_dotenv_are_taken_literally(quoted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A MinIO secret may contain ``${``; expanding it would turn the secret into a credentials error."""
    monkeypatch.setenv("PART", "expanded")
    secret, key = "mini${PART}o$ecret${X:-y}", "AKIA${PART}"
    (tmp_path / ".env").write_text(
        f"LITESTREAM_ACCESS_KEY_ID={quoted.format(key)}\nLITESTREAM_SECRET_ACCESS_KEY={quoted.format(secret)}\n"
        "REPLICA_URL=s3://bkt/app.db\n"
    )
    cfg = ConfigS3()
    assert cfg.key is not None and cfg.key.get_secret_value() == key
    assert cfg.token is not None and cfg.token.get_secret_value() == secret


def test_other_dotenv_values_expand_variables_except_in_single_quotes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_HOME", str(tmp_path / "srv"))
    (tmp_path / ".env").write_text(
        f"LITESTREAM_ACCESS_KEY_ID={KEY}\nLITESTREAM_SECRET_ACCESS_KEY={SECRET}\n"
        "BUCKET=from-the-file\nREPLICA_URL=s3://${BUCKET}/app.db\nDB_FOLDER=${APP_HOME}/data\n"
        "REPLICA_REGION='${NOT_EXPANDED}'\n"
    )
    cfg = ConfigS3()
    assert (cfg.s3, cfg.region) == ("s3://from-the-file/app.db", "${NOT_EXPANDED}")
    assert cfg.folder == tmp_path / "srv" / "data"


def test_a_dotenv_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    from pylts import InvalidSettingsFile

    text = f"REPLICA_URL=s3://bkt/app.db\nLITESTREAM_ACCESS_KEY_ID={KEY}\nLITESTREAM_SECRET_ACCESS_KEY=\xe9-{SECRET}\n"
    (tmp_path / ".env").write_bytes(text.encode("latin-1"))
    with pytest.raises(InvalidSettingsFile) as caught:
        ConfigS3()
    assert "line 3 of" in str(caught.value) and "UTF-8" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_litestream_settings_read_only_the_binary_by_the_same_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pylts.settings import LitestreamSettings

    (tmp_path / ".env").write_text("LITESTREAM_BIN=${TOOLS}/litestream\n")
    monkeypatch.setenv("TOOLS", "/opt/tools")
    monkeypatch.setenv("LITESTREAM_BIN", "")
    assert LitestreamSettings().litestream_bin == Path("/opt/tools/litestream")
    assert LitestreamSettings(_env_file=None).litestream_bin is None


def test_the_credential_chain_with_a_second_destination_needs_its_own_keys(tmp_path: Path) -> None:
    """pylts lists and prunes the second store itself: without keys it could sign with, that store would only grow."""
    chain = {"s3": "s3://bkt/app.db", "use_aws_credential_chain": True, "folder": tmp_path / "data"}
    with pytest.raises(InvalidSettings) as caught:
        ConfigS3.load(_env_file=None, **chain, secondary_url="s3://copies/app.db")
    assert "PYLTS_SECONDARY_ACCESS_KEY_ID and PYLTS_SECONDARY_SECRET_ACCESS_KEY" in str(caught.value)
    assert not (tmp_path / "data").exists()
    keys = {"secondary_access_key_id": KEY, "secondary_secret_access_key": SECRET}
    cfg = ConfigS3.load(_env_file=None, **chain, secondary_url="s3://copies/app.db", **keys)
    assert cfg.secondary_url == "s3://copies/app.db"
    assert ConfigS3.load(_env_file=None, **chain).secondary_url is None  # no second destination: the chain alone
