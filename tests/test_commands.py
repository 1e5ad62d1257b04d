"""argv, child environment and config file builders of both lines, without running litestream."""

from __future__ import annotations

from pathlib import Path

import pytest

from pylts.binary import Litestream, Version
from pylts.commands import child_env, config_yaml
from pylts.lines import Line, line_for
from pylts.lines.v05.ltx import ltx_argv
from pylts.replica import parse_replica_url

V05 = line_for(Litestream(Path("/opt/litestream"), Version(0, 5, 17)))
DB = Path("/srv/data/app.db")
REPLICA = parse_replica_url("s3://bkt/app.db?endpoint=http://127.0.0.1:9000&region=us-east-1")
KEY, SECRET = "AKIACOMMANDSTEST0001", "commands-secret-value"


def v03() -> Line:
    """The 0.3 line (built by the tests marked ``line03``, which go with it)."""
    return line_for(Litestream(Path("/opt/litestream"), Version(0, 3, 13)))


def test_replicate_05_puts_flags_before_positionals() -> None:
    argv = V05.replicate_argv(DB, REPLICA, once=True)
    assert argv[:3] == ["/opt/litestream", "replicate", "-once"]
    assert argv[3:] == [str(DB), REPLICA.url()]


@pytest.mark.line03
def test_replicate_03_reads_a_config_file() -> None:
    assert v03().replicate_argv(DB, REPLICA) == [
        "/opt/litestream",
        "replicate",
        "-config",
        "/srv/data/.app.db-pylts.yml",
        "-no-expand-env",
    ]


def test_restore_argv_05() -> None:
    out = Path("/srv/data/.stage/app.db")
    assert V05.restore_argv(DB, REPLICA, out) == ["/opt/litestream", "restore", "-json", "-o", str(out), REPLICA.url()]


@pytest.mark.line03
def test_restore_argv_03() -> None:
    out = Path("/srv/data/.stage/app.db")
    assert v03().restore_argv(DB, REPLICA, out) == [
        "/opt/litestream",
        "restore",
        "-config",
        "/srv/data/.app.db-pylts.yml",
        "-no-expand-env",
        "-o",
        str(out),
        str(DB),
    ]


def test_ltx_argv() -> None:
    assert ltx_argv(V05.litestream, REPLICA) == ["/opt/litestream", "ltx", "-json", "-level", "all", REPLICA.url()]


@pytest.mark.line03
def test_config_for_03_lists_replicas_and_no_secret() -> None:
    text = config_yaml(v03(), {DB: REPLICA})
    assert text == (
        "dbs:\n"
        '  - path: "/srv/data/app.db"\n'
        "    replicas:\n"
        '      - type: "s3"\n'
        '        bucket: "bkt"\n'
        '        path: "app.db"\n'
        '        endpoint: "http://127.0.0.1:9000"\n'
        '        region: "us-east-1"\n'
        "        force-path-style: true\n"
    )


def test_config_for_05_has_one_replica_per_db() -> None:
    text = config_yaml(V05, {DB: REPLICA, Path("/srv/data/other.db"): parse_replica_url("s3://bkt/other.db")})
    assert text.count("    replica:\n") == 2 and "replicas:" not in text


def test_config_quotes_odd_paths_safely() -> None:
    text = config_yaml(V05, {Path('/srv/we"ird: dir/app.db'): parse_replica_url("s3://bkt/app.db")})
    assert '  - path: "/srv/we\\"ird: dir/app.db"' in text


def test_explicit_credentials_beat_stray_aws_variables() -> None:
    parent = {
        "AWS_ACCESS_KEY_ID": "stray",
        "AWS_SECRET_ACCESS_KEY": "stray",
        "AWS_SESSION_TOKEN": "stray-token",
        "AWS_PROFILE": "someone-else",
        "PATH": "/usr/bin",
    }
    env = child_env(parent, V05, credentials=(KEY, SECRET))
    assert env["AWS_ACCESS_KEY_ID"] == env["LITESTREAM_ACCESS_KEY_ID"] == KEY
    assert env["AWS_SECRET_ACCESS_KEY"] == env["LITESTREAM_SECRET_ACCESS_KEY"] == SECRET
    assert "AWS_SESSION_TOKEN" not in env and "AWS_PROFILE" not in env
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert env["PATH"] == "/usr/bin"
    assert parent["AWS_ACCESS_KEY_ID"] == "stray", "the parent mapping is not changed"


def test_credential_chain_passes_the_parent_through() -> None:
    parent = {"AWS_PROFILE": "prod", "AWS_ROLE_ARN": "arn:aws:iam::1:role/x"}
    assert child_env(parent, V05, credentials=None) == parent


def test_ca_bundle_becomes_ssl_cert_file_for_05() -> None:
    parent = {"AWS_CA_BUNDLE": "/etc/ssl/corp.pem"}
    env05 = child_env(parent, V05, credentials=(KEY, SECRET))
    assert "AWS_CA_BUNDLE" not in env05 and env05["SSL_CERT_FILE"] == "/etc/ssl/corp.pem"


@pytest.mark.line03
def test_ca_bundle_stays_for_03() -> None:
    parent = {"AWS_CA_BUNDLE": "/etc/ssl/corp.pem"}
    env03 = child_env(parent, v03(), credentials=(KEY, SECRET))
    assert env03["AWS_CA_BUNDLE"] == "/etc/ssl/corp.pem" and "SSL_CERT_FILE" not in env03


def test_ca_bundle_keeps_an_existing_ssl_cert_file() -> None:
    env = child_env({"AWS_CA_BUNDLE": "/a.pem", "SSL_CERT_FILE": "/b.pem"}, V05, credentials=(KEY, SECRET))
    assert env["SSL_CERT_FILE"] == "/b.pem"


@pytest.mark.parametrize(
    "version", [Version(0, 5, 17), pytest.param(Version(0, 3, 13), marks=pytest.mark.line03)], ids=str
)
def test_no_secret_in_any_argv(version: Version) -> None:
    line = line_for(Litestream(Path("/opt/litestream"), version))
    argvs = [line.replicate_argv(DB, REPLICA), line.restore_argv(DB, REPLICA, DB)]
    assert not [a for argv in argvs for a in argv if KEY in a or SECRET in a]
