"""The pylts command, run as a user would: a real process, real litestream, moto on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import derive, read_rows, settings_env, write_rows

from pylts import ConfigS3, ReplicaContents, __version__
from pylts.cli import main
from pylts.cli_parser import build_parser
from pylts.testing import ACCESS_KEY, SECRET_KEY, LocalS3

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["restore", "replicate", "verify", "config", "contents", "points", "doctor", "follow", "migrate", "version"]


def pylts(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pylts", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def no_secret(*results: subprocess.CompletedProcess[str]) -> None:
    for result in results:
        assert ACCESS_KEY not in result.stdout + result.stderr
        assert SECRET_KEY not in result.stdout + result.stderr


def test_every_command_is_documented_with_an_example() -> None:
    page = (ROOT / "docs" / "cli.md").read_text()
    subcommands = next(a for a in build_parser(__version__)._actions if a.dest == "command").choices
    assert subcommands is not None
    assert sorted(subcommands) == sorted([*COMMANDS, "status"])  # status: the old name of contents
    for name in COMMANDS:
        assert f"## pylts {name}" in page and f"example:\n  pylts {name}" in page


@pytest.mark.parametrize("args", [["--help"], *[[name, "--help"] for name in COMMANDS]])
def test_help_works_without_any_environment(args: list[str], tmp_path: Path) -> None:
    result = pylts(*args, env={"PATH": os.environ["PATH"]}, cwd=tmp_path)
    assert result.returncode == 0 and "usage: pylts" in result.stdout


def test_missing_settings_are_one_line_and_exit_2(tmp_path: Path) -> None:
    result = pylts("restore", env={"PATH": os.environ["PATH"]}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "REPLICA_URL: Field required" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_setting_names_the_setting_but_not_the_secret(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "LITESTREAM_ACCESS_KEY_ID": ACCESS_KEY,
        "LITESTREAM_SECRET_ACCESS_KEY": SECRET_KEY,
    }
    result = pylts("status", "--s3", "s3://bkt/app.db", "--db", "../x.db", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "db: db must be a plain file name" in result.stderr
    assert "Value error" not in result.stderr
    no_secret(result)


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    result = pylts(
        "restore",
        "--if-missing",
        "--force",
        env={"PATH": os.environ["PATH"], "REPLICA_URL": "s3://b/a.db", "PYLTS_AWS_CREDENTIAL_CHAIN": "true"},
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "--if-missing" in result.stderr


def status_lines(held: ReplicaContents) -> list[str]:
    """How the lines of ``pylts status`` about ``held`` start: the newest backup, then one line per file, in order."""
    assert held.latest is not None
    files = [f"ltx  level {f.level}  txid {f.min_txid}-{f.max_txid}" for f in held.ltx_files]
    files += [f"generation {g.generation}  " for g in held.generations]
    files += [f"snapshot {s.generation}/{s.index}  " for s in held.snapshots]
    assert files, "the replica holds something to list"
    proof = [held.continuity.summary()] if held.continuity is not None else []  # 0.5: how far the chain reaches
    header = f"latest backup written {held.latest:%Y-%m-%dT%H:%M:%SZ} (litestream {held.litestream_version})"
    return [header, *proof, *files]


@pytest.mark.integration
def test_commands_end_to_end(cfg: ConfigS3, tmp_path: Path) -> None:
    env = settings_env(cfg)
    nothing = pylts("restore", env=env, cwd=tmp_path)
    assert nothing.returncode == 3 and "nothing has been replicated" in nothing.stderr
    assert pylts("contents", env=env, cwd=tmp_path).returncode == 3
    assert pylts("restore", "--if-missing", env=env, cwd=tmp_path).stdout.strip().endswith(": fresh")

    write_rows(cfg.dbpath, 12)
    once = pylts("replicate", "--once", "--timeout", "30", env=env, cwd=tmp_path)
    assert once.returncode == 0 and "backed up" in once.stdout and cfg.dbpath.exists()
    held = cfg.replica_contents()
    listed = pylts("contents", env=env, cwd=tmp_path)
    assert listed.returncode == 0
    shown, expected = listed.stdout.splitlines(), status_lines(held)
    assert len(shown) == len(expected) and all(map(str.startswith, shown, expected)), listed.stdout
    assert f"replicating {cfg.db} costs {cfg.idle_requests()} with these settings" in listed.stderr
    as_json = pylts("contents", "--json", env=env, cwd=tmp_path)
    assert as_json.returncode == 0 and ReplicaContents.model_validate_json(as_json.stdout) == held
    old_name = pylts("status", "--json", env=env, cwd=tmp_path)  # pylts 0.1's name for it
    assert old_name.stdout == as_json.stdout and "`pylts status` is now `pylts contents`" in old_name.stderr
    verify = pylts("verify", "--sync", "--timeout", "30", env=env, cwd=tmp_path)
    assert verify.returncode == 0 and verify.stdout.startswith("ok")
    exists = pylts("restore", env=env, cwd=tmp_path)
    assert exists.returncode == 1 and "add --force to replace it" in exists.stderr
    cfg.dbpath.unlink()
    restored = pylts("restore", env=env, cwd=tmp_path)
    assert restored.returncode == 0 and len(read_rows(cfg.dbpath)) == 12
    assert pylts("restore", "--if-missing", env=env, cwd=tmp_path).stdout.strip().endswith(": existing")
    config = pylts("config", env=env, cwd=tmp_path)
    assert config.returncode == 0 and "${LITESTREAM_SECRET_ACCESS_KEY}" in config.stdout
    written = pylts("config", "--output", str(tmp_path / "litestream.yml"), env=env, cwd=tmp_path)
    assert written.returncode == 0 and oct((tmp_path / "litestream.yml").stat().st_mode & 0o777) == "0o600"
    version = pylts("version", env=env, cwd=tmp_path)
    assert version.returncode == 0 and "litestream" in version.stdout
    no_secret(nothing, once, listed, as_json, old_name, verify, exists, restored, config, written, version)
    assert SECRET_KEY not in (tmp_path / "litestream.yml").read_text()


@pytest.mark.integration
def test_replicate_exec_exits_with_the_apps_code(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 1)
    app = (
        f"{sys.executable} -c \"import sqlite3; c = sqlite3.connect('{cfg.dbpath}'); "
        "c.execute('INSERT INTO items VALUES (7, \\'seven\\')'); c.commit(); raise SystemExit(5)\""
    )
    result = pylts("replicate", "--exec", app, env=settings_env(cfg), cwd=tmp_path)
    assert result.returncode == 5, result.stderr
    copy = derive(cfg, folder=tmp_path / "copy")
    copy.restore()
    assert (7, "seven") in read_rows(copy.dbpath)


@pytest.mark.integration
def test_replicate_until_terminated_makes_the_final_sync(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pylts", "replicate"],
        env=settings_env(cfg),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        assert any("running until stopped" in line for line in iter(proc.stderr.readline, "")), "it said it is ready"
        write_rows(cfg.dbpath, 3, start=3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == "" and "pylts: SIGTERM: stopping" in err and "final sync of app.db done" in err
    copy = derive(cfg, folder=tmp_path / "copy")
    copy.restore()
    assert len(read_rows(copy.dbpath)) == 6


def fake_litestream(folder: Path, ltx_output: str = "[]") -> Path:
    """A stand-in for litestream that reports 0.5.17 and prints ``ltx_output`` for anything else."""
    path = folder / "fake-litestream"
    path.write_text(f"#!/bin/sh\nif [ \"$1\" = version ]; then echo 0.5.17; else echo '{ltx_output}'; fi\n")
    path.chmod(0o755)
    return path


def test_a_bad_dotenv_line_is_one_message_not_two(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"REPLICA_URL=s3://bkt/app.db\nthis is not a setting {SECRET_KEY}\n")
    result = pylts("config", env={"PATH": os.environ["PATH"]}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.strip()], "python-dotenv printed its own warning too"
    assert "line 2 of .env" in result.stderr
    no_secret(result)


def test_a_dotenv_that_is_not_utf8_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"REPLICA_URL=s3://bkt/app.db\nLITESTREAM_SECRET_ACCESS_KEY=caf\xe9\n")
    result = pylts("config", env={"PATH": os.environ["PATH"]}, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("pylts: error: line 2 of .env is not UTF-8")


@pytest.mark.parametrize("where", ["dotenv", "env-file"])
def test_version_reads_litestream_bin_like_every_command(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = fake_litestream(tmp_path)
    (tmp_path / ("prod.env" if where == "env-file" else ".env")).write_text(f"LITESTREAM_BIN={fake}\n")
    monkeypatch.setenv("LITESTREAM_BIN", "")  # empty, as `docker run -e LITESTREAM_BIN=` leaves it
    assert main(["version", *(["--env-file", "prod.env"] if where == "env-file" else [])]) == 0
    assert f"litestream 0.5.17 at {fake}" in capsys.readouterr().out


def test_version_needs_no_other_setting_and_takes_no_other_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = fake_litestream(tmp_path)
    assert main(["version", "--litestream-bin", str(fake)]) == 0
    assert f"at {fake}" in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        main(["version", "--s3", "s3://bkt/app.db"])
    assert caught.value.code == 2 and "unrecognized arguments: --s3" in capsys.readouterr().err


@pytest.mark.integration
def test_output_litestream_cannot_explain_is_not_called_invalid_settings(
    local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    cfg = local_s3.config(bucket, "app.db", db="app.db", folder=tmp_path / "data")
    env = settings_env(cfg, LITESTREAM_BIN=str(fake_litestream(tmp_path, '[{"level": "not a number"}]')))
    result = pylts("status", env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "invalid settings" not in result.stderr
    no_secret(result)


@pytest.mark.integration
def test_replicate_exec_exits_like_a_shell_when_the_app_dies_of_a_signal(cfg: ConfigS3, tmp_path: Path) -> None:
    write_rows(cfg.dbpath, 1)
    for sig, shell_code in ((signal.SIGTERM, 143), (signal.SIGKILL, 137)):
        app = f"{sys.executable} -c 'import os, signal; os.kill(os.getpid(), signal.{sig.name})'"
        result = pylts("replicate", "--exec", app, env=settings_env(cfg), cwd=tmp_path)
        assert result.returncode == shell_code, result.stderr


@pytest.mark.parametrize("where", ["--endpoint", "REPLICA_URL"])
def test_credentials_in_an_endpoint_are_refused_and_never_printed(where: str, tmp_path: Path) -> None:
    endpoint = f"https://{ACCESS_KEY}:{SECRET_KEY}@minio.example.com"
    env = {"PATH": os.environ["PATH"], "PYLTS_AWS_CREDENTIAL_CHAIN": "true", "REPLICA_URL": "s3://bkt/app.db"}
    if where == "REPLICA_URL":
        env["REPLICA_URL"] += f"?endpoint={endpoint}"
    result = pylts("config", *(["--endpoint", endpoint] if where == "--endpoint" else []), env=env, cwd=tmp_path)
    assert result.returncode == 2 and "endpoint must not carry credentials" in result.stderr
    no_secret(result)
