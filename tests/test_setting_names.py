"""Settings say what they are, and a misspelled one is an error, not a silent default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pylts import ConfigS3, InvalidSettings, PyltsError
from pylts.cli import main

REQUIRED: dict[str, Any] = {"key": "AKIAEXAMPLE", "token": "s3cr3t-value", "s3": "s3://backups/app.db"}


def as_keywords(**given: Any) -> dict[str, Any]:
    """Keywords the pydantic mypy plugin does not know (it types __init__ from the fields), for the call under test."""
    return given


def test_the_names_that_say_what_each_setting_is() -> None:
    names = as_keywords(
        access_key_id="AKIAEXAMPLE", secret_access_key="s3cr3t-value", replica_url="s3://backups/app.db"
    )
    cfg = ConfigS3(_env_file=None, **names)
    assert cfg == ConfigS3(_env_file=None, **REQUIRED)  # the 0.0.9 names
    assert cfg.secret_access_key is not None and cfg.secret_access_key.get_secret_value() == "s3cr3t-value"
    assert cfg.access_key_id == cfg.key and cfg.replica_url == cfg.s3 == "s3://backups/app.db"
    assert "s3cr3t-value" not in repr(cfg) + str(cfg)


def test_a_name_and_its_old_name_together_are_refused() -> None:
    with pytest.raises(InvalidSettings, match="give secret_access_key or its old name token, not both"):
        ConfigS3(_env_file=None, **as_keywords(secret_access_key="a"), **REQUIRED)


def test_a_misspelled_keyword_raises_and_says_what_was_meant() -> None:
    with pytest.raises(ValidationError, match="folde") as plain:
        ConfigS3(_env_file=None, folde="/srv/app", **REQUIRED)  # caught when built, not by type checkers
    assert isinstance(plain.value, ValueError)
    with pytest.raises(InvalidSettings, match="folde: no such setting; did you mean folder") as loaded:
        ConfigS3.load(_env_file=None, folde="/srv/app", **REQUIRED)
    assert isinstance(loaded.value, PyltsError)


def test_a_misspelled_secret_is_not_shown_in_the_error() -> None:
    with pytest.raises(ValidationError) as caught:
        ConfigS3(_env_file=None, **as_keywords(secret_acess_key="hunter2-secret"), key="k", s3="s3://backups/app.db")
    assert "hunter2-secret" not in str(caught.value)


def test_the_apps_own_variables_in_env_and_dotenv_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(
        "DATABASE_URL=postgres://x\nSECRET_KEY=django\nREPLICA_URL=s3://backups/app.db\n"
        "LITESTREAM_ACCESS_KEY_ID=AKIAEXAMPLE\nLITESTREAM_SECRET_ACCESS_KEY=s3cr3t-value\nDB_SQLITE=app.db\n"
    )
    monkeypatch.setenv("SECRET_ACCESS_KEY", "not-a-pylts-setting")
    monkeypatch.setenv("DEBUG", "1")
    cfg = ConfigS3()
    assert cfg.db == "app.db" and cfg.replica_url == "s3://backups/app.db"
    assert cfg.secret_access_key is not None and cfg.secret_access_key.get_secret_value() == "s3cr3t-value"


def test_the_cli_names_the_replica_url_by_what_it_is(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--replica-url", "--s3"):
        args = ["config", flag, "s3://backups/app.db", "--db", "app.db", "--use-aws-credential-chain"]
        assert main(args) == 0
        assert 'bucket: "backups"' in capsys.readouterr().out
