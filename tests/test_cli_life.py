"""The installed ``pylts`` command in a terminal's life: what it says, where options go, pipes, its versions.

Each test runs the console script pip installed, as a subprocess, the way a user or a process manager does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import cli_transcript
import pytest
from helpers import PYLTS_COMMAND, settings_env, write_rows

from pylts import ConfigS3, __version__, cli, cli_settings
from pylts.cli import reference_markdown, settings_tables_source
from pylts.cli_parser import build_parser
from pylts.status_page import LOCALHOST
from pylts.testing import LocalS3

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPT = ROOT / "docs" / "_generated" / "cli-transcript.txt"


def pylts(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYLTS_COMMAND, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Settings that need no store: enough for ``config`` and for refusals made before anything is fetched."""
    (tmp_path / "prod.env").write_text("REPLICA_URL=s3://backups/app.db\nDB_FOLDER=/srv/app\n")
    return {"PATH": os.environ["PATH"], "AWS_EC2_METADATA_DISABLED": "true", **extra}


def test_the_cli_page_shows_the_committed_transcript() -> None:
    assert (ROOT / "docs" / "cli.md").read_text() == reference_markdown(TRANSCRIPT.read_text()), (
        "run: python3 tasks.py cli-docs"
    )


def test_the_options_table_is_what_the_settings_models_say() -> None:
    assert Path(cli_settings.__file__).read_text(encoding="utf-8") == settings_tables_source(), (
        "a setting changed: run python3 tasks.py cli-docs"
    )


@pytest.mark.parametrize("args", [["--help"], ["restore", "--help"], ["restore", "--no-such-option"], ["--version"]])
def test_help_and_usage_errors_answer_before_pydantic_is_imported(args: list[str]) -> None:
    """A container's `pylts --help`, or a typo in a start script, must not pay for the settings models."""
    probe = (
        "import contextlib, io, runpy, sys\n"
        f"sys.argv = ['pylts', *{args!r}]\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    with contextlib.redirect_stderr(io.StringIO()):\n"
        "        runpy.run_module('pylts', run_name='__main__', alter_sys=True)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('pydantic', 'pydantic_settings')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout == "[]\n", result.stderr


def test_every_command_the_parser_knows_has_a_job_to_run() -> None:
    commands = next(a for a in build_parser(__version__)._actions if isinstance(a, argparse._SubParsersAction))
    jobs = {sub.get_default("job") for sub in commands.choices.values()}
    assert jobs == set(cli._JOBS), "a command added to pylts/cli_parser.py needs its job in pylts/cli.py"


def test_the_status_page_listens_where_its_option_says_by_default() -> None:
    commands = next(a for a in build_parser(__version__)._actions if isinstance(a, argparse._SubParsersAction))
    assert commands.choices["replicate"].get_default("status_host") == LOCALHOST


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_go_before_the_command_or_after_it(where: str, tmp_path: Path) -> None:
    env = offline_env(tmp_path, LITESTREAM_ACCESS_KEY_ID="k", LITESTREAM_SECRET_ACCESS_KEY="s")
    options = ["--env-file", "prod.env", "-q"]
    args = [*options, "config"] if where == "before" else ["config", *options]
    result = pylts(*args, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'path: "/srv/app/db.sqlite"' in result.stdout and 'bucket: "backups"' in result.stdout


def test_an_option_after_the_command_does_not_undo_one_before_it(tmp_path: Path) -> None:
    env = offline_env(tmp_path, LITESTREAM_ACCESS_KEY_ID="k", LITESTREAM_SECRET_ACCESS_KEY="s")
    result = pylts("--env-file", "prod.env", "config", "-q", env=env, cwd=tmp_path)
    assert result.returncode == 0 and 'bucket: "backups"' in result.stdout, result.stderr


def test_a_closed_stdout_ends_the_command_quietly_with_the_shells_status(tmp_path: Path) -> None:
    """`pylts config | head -c 0`: the reader is gone before pylts writes; no traceback, status 141."""
    env = offline_env(tmp_path, LITESTREAM_ACCESS_KEY_ID="k", LITESTREAM_SECRET_ACCESS_KEY="s")
    read, write = os.pipe()
    os.close(read)  # the reader exits at once, as `head -c 0` does
    try:
        result = subprocess.run(
            [PYLTS_COMMAND, "--env-file", "prod.env", "config"],
            env=env,
            cwd=tmp_path,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""


def test_a_refused_restore_names_the_flag_that_would_do_it(tmp_path: Path) -> None:
    env = offline_env(
        tmp_path,
        LITESTREAM_ACCESS_KEY_ID="k",
        LITESTREAM_SECRET_ACCESS_KEY="s",
        REPLICA_ENDPOINT="http://127.0.0.1:9",
        DB_FOLDER=str(tmp_path),
    )
    write_rows(tmp_path / "db.sqlite", 3)
    before = (tmp_path / "db.sqlite").read_bytes()
    result = pylts("--env-file", "prod.env", "restore", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "add --force to replace it" in result.stderr and "overwrite=True" not in result.stderr
    assert result.stderr.splitlines()[-1] == "pylts: exit 1" and "Traceback" not in result.stderr
    assert (tmp_path / "db.sqlite").read_bytes() == before


def test_a_bad_log_level_is_one_line_that_says_what_to_give(tmp_path: Path) -> None:
    env = offline_env(tmp_path, PYLTS_LOG_LEVEL="loud")
    result = pylts("--env-file", "prod.env", "config", env=env, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        "pylts: error: invalid settings: PYLTS_LOG_LEVEL: 'loud' is not a level: "
        "give one of error, warning, info, debug (or -v / -q)\n"
    )


@pytest.mark.parametrize(
    ("version", "line", "code"),
    [("v0.5.17", "line: 0.5 (layout 0.5)", 0), ("v0.4.1", "line: none: litestream 0.4.1 is not supported", 1)],
)
def test_version_names_the_line_that_drives_litestream(version: str, line: str, code: int, tmp_path: Path) -> None:
    fake = tmp_path / "litestream"
    fake.write_text(f"#!/bin/sh\necho {version}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    result = pylts("version", "--litestream-bin", str(fake), env=offline_env(tmp_path), cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert result.stdout.splitlines()[1] == f"litestream {version[1:]} at {fake}"
    assert result.stdout.splitlines()[2].startswith(line)


@pytest.mark.integration
def test_verbosity_from_flags_and_from_the_environment(cfg: ConfigS3, tmp_path: Path) -> None:
    """INFO by default; -q: warnings only; -v: litestream's own commands too; PYLTS_LOG_LEVEL when no flag."""
    write_rows(cfg.dbpath, 3)
    assert cfg.timed_replicate(60, delete=True)

    def said(*args: str, before: tuple[str, ...] = (), **extra: str) -> str:
        shutil.rmtree(cfg.folder)  # a fresh machine each time: no database, no files left beside it
        result = pylts(*before, "restore", "--if-missing", *args, env=settings_env(cfg, **extra), cwd=tmp_path)
        assert result.returncode == 0 and result.stdout == f"{cfg.dbpath}: restored\n", result.stderr
        return result.stderr

    default = said()
    assert f"pylts: boot of {cfg.dbpath}: restore (no local database; the replica at " in default
    assert f"pylts: restored {cfg.dbpath} (" in default and default.endswith("pylts: exit 0\n")
    assert "pylts: debug:" not in default
    assert said("-q") == said(PYLTS_LOG_LEVEL="warning") == ""
    verbose = said("-v")
    assert "pylts: debug: running " in verbose and " restore " in verbose
    assert said(PYLTS_LOG_LEVEL="DEBUG").count("pylts: debug: running ") == verbose.count("pylts: debug: running ")
    assert "pylts: debug:" not in said("-q", PYLTS_LOG_LEVEL="debug"), "a flag wins over the environment"
    assert said(before=("-q",)) == "" and "pylts: debug: running " in said(before=("-v",)), "before the command too"


@pytest.mark.integration
def test_an_apps_own_logging_shows_the_lines_at_the_level_asked(cfg: ConfigS3, tmp_path: Path) -> None:
    """As under Django's LOGGING: the app's handler (root, at WARNING) gets pylts' records; -v still turns on DEBUG."""
    write_rows(cfg.dbpath, 3)
    assert cfg.timed_replicate(60, delete=True)
    app = (
        "import logging, sys; logging.basicConfig(level=logging.WARNING); "
        "from pylts.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", app, "restore", "--if-missing", "-v"],
        env=settings_env(cfg),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "DEBUG:pylts.runner:running " in result.stderr and "INFO:pylts.boot:boot of " in result.stderr
    assert "pylts: " not in result.stderr, "no second handler beside the app's"


@pytest.mark.long
@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.serial
def test_replicate_exec_says_what_it_does_through_a_restart_and_an_outage(
    local_s3: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """The docs' transcript, run again: the boot, replicating, the app's pid (and no other), litestream killed
    and restarted, the store down then back, the final sync and the exit; every acknowledged write restores.

    The docs show the litestream pylts installs (the current line), so this runs on it alone.
    """
    cfg = local_s3.config(bucket, "db.sqlite", db="db.sqlite", folder=tmp_path / "data")  # named as in the docs
    run = cli_transcript.run(cfg, local_s3, tmp_path)
    assert run.returncode == 0, run.lines
    assert run.acknowledged and run.acknowledged <= run.restored, "an acknowledged write is not in the replica"
    order = [
        "pylts: boot of ",
        "pylts: replicating ",
        f"pylts: started python3 (pid {run.app_pid})",
        "pylts: warning: litestream was killed by SIGKILL",
        "after litestream's restart",
        f"{cfg.db} is behind",
        f"{cfg.db} is caught up",
        f"pylts: python3 (pid {run.app_pid}) exited with 0",
        f"pylts: final sync of {cfg.db} done in ",
        "pylts: exit 0",
    ]
    at = 0
    for step in order:  # each after the one before
        at = next((i for i, line in enumerate(run.lines) if i >= at and step in line), -1)
        assert at >= 0, f"{step!r} not said in order: {run.lines}"
    assert all(f"pid {run.app_pid}" in line for line in run.lines if "pid " in line), "one pid: the app's"
    assert not any(str(run.killed_litestream) in line for line in run.lines), "litestream's pid is not shown"
    produced = {cli_transcript.pattern(line) for line in cli_transcript.shown(run.lines, cfg, tmp_path)}
    documented = TRANSCRIPT.read_text().splitlines()[1:]
    assert [line for line in documented if cli_transcript.pattern(line) not in produced] == [], (
        "docs/cli.md shows lines the code no longer says: python3 tasks.py cli-transcript"
    )


def test_help_shows_each_settings_default(tmp_path: Path) -> None:
    result = pylts("replicate", "--help", env=offline_env(tmp_path), cwd=tmp_path)
    text = " ".join(result.stdout.split())
    assert "(default refuse) [PYLTS_BOOT_POLICY]" in text and "(default db.sqlite) [DB_SQLITE]" in text
    assert "(default 10) [PYLTS_MAX_BACKOFF]" in text


def test_a_dry_run_from_the_second_destination_is_refused_not_planned_from_the_primary(tmp_path: Path) -> None:
    """A dry run plans from the primary; asked --from secondary it would show the primary's files as the plan."""
    env = offline_env(tmp_path, PYLTS_SECONDARY_URL="s3://copies/app.db")
    result = pylts("restore", "--env-file", "prod.env", "--dry-run", "--from", "secondary", env=env, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert "--dry-run plans a restore from the primary replica: it cannot go with" in result.stderr
    assert "--from secondary" in result.stderr and not (tmp_path / "srv").exists()
