"""The deployment examples of the docs say what pylts does: the systemd unit, Django's commands, the build."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from helpers import PYLTS_COMMAND, reaped, settings_env, waited

from pylts import ConfigS3
from pylts.sqlite_files import lock_path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PYLTS = PYLTS_COMMAND


def blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", page.read_text(), flags=re.S)


def test_a_systemd_unit_that_runs_replicate_counts_143_as_success() -> None:
    units = [unit for page in DOCS.rglob("*.md") for unit in blocks(page, "ini") if "pylts replicate" in unit]
    assert units, "the docs show a systemd unit for pylts replicate"
    assert all(re.search(r"^SuccessExitStatus=143$", unit, flags=re.M) for unit in units)


def test_django_lists_verify_sync_apart_from_the_running_server() -> None:
    commands = blocks(DOCS / "integrations" / "django.md", "sh")
    assert any("verify --sync" in block for block in commands)
    assert not [block for block in commands if "verify --sync" in block and "replicate" in block]


def test_the_license_is_an_spdx_string_that_the_build_backend_floor_reads() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^license = "MIT"$', pyproject, flags=re.M)  # a table: setuptools warns
    assert "License ::" not in pyproject  # classifiers beside an SPDX string are refused
    assert re.search(r'^requires = \["setuptools>=77"\]$', pyproject, flags=re.M)  # 77 first reads an SPDX string


@pytest.mark.slow
def test_the_build_says_nothing_about_the_license(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-v", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    assert list(tmp_path.glob("pylts-*.whl"))
    assert not re.search(r"(?i)warning.*licen[cs]e|licen[cs]e.*deprecat", built.stdout + built.stderr)


def database(cfg: ConfigS3) -> None:
    cfg.folder.mkdir(parents=True)
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept')")


@pytest.mark.integration
def test_an_app_stopped_by_sigterm_makes_replicate_exit_143(cfg: ConfigS3, tmp_path: Path) -> None:
    database(cfg)
    app = f"{sys.executable} -c 'import os, signal; os.kill(os.getpid(), signal.SIGTERM)'"
    result = subprocess.run(
        [PYLTS, "replicate", "--exec", app], env=settings_env(cfg), cwd=tmp_path, capture_output=True, timeout=120
    )
    assert result.returncode == 143, result.stderr


@pytest.mark.integration
def test_verify_sync_beside_a_running_replicate_is_refused_and_verify_is_not(cfg: ConfigS3, tmp_path: Path) -> None:
    database(cfg)
    env = settings_env(cfg)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PYLTS, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    server = subprocess.Popen(
        [PYLTS, "replicate"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    with reaped(server):
        in_sync = waited(lambda: lock_path(cfg.dbpath).is_file() and cli("contents").returncode == 0, timeout=60)
        assert in_sync is not None, "replicate did not reach the replica"
        beside = cli("verify")
        assert beside.returncode == 0, beside.stdout + beside.stderr
        refused = cli("verify", "--sync")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "failed: AlreadyReplicating: " in refused.stdout
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    alone = cli("verify", "--sync")
    assert alone.returncode == 0, alone.stdout + alone.stderr
