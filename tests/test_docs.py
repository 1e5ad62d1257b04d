"""The docs build strictly, the examples they include run, and every setting and error is documented."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from doc_inlines import without_inlines
from helpers import missing, settings_env

import pylts
from pylts import ConfigS3
from pylts.settings_base import env_name
from pylts.settings_docs import END, with_settings_table
from pylts.testing import LocalS3

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_mkdocs_builds_strictly(tmp_path: Path) -> None:
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        missing("mkdocs is not installed")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "api" / "index.html").read_text().count("timed_replicate") > 0


def test_every_setting_is_documented() -> None:
    page, example = (DOCS / "configuration.md").read_text(), (ROOT / ".env.example").read_text()
    for name, field in ConfigS3.model_fields.items():
        assert f"`{name}`" in page, f"{name} is missing from docs/configuration.md"
        assert f"`{field.validation_alias}`" in page
        assert f"{field.validation_alias}=" in example, f"{field.validation_alias} is missing from .env.example"


def test_the_settings_table_matches_the_fields() -> None:
    page = (DOCS / "configuration.md").read_text()
    assert page == with_settings_table(page), "run: python3 tasks.py settings-docs"
    for name in ConfigS3.model_fields:  # every field has its row, with its environment variable
        assert re.search(rf"^\| `{name}`.*\| `{env_name(name, ConfigS3.model_fields[name])}` \|", page, re.M), name


def test_a_stale_settings_table_is_told_and_rewritten() -> None:
    page = (DOCS / "configuration.md").read_text()
    stale = page.replace("| `boot_policy` |", "| `boot_policy_gone` |")
    assert stale != page and with_settings_table(stale) == page
    with pytest.raises(ValueError, match="markers of the settings table"):
        with_settings_table(page.replace(END, ""))


def test_every_error_has_a_troubleshooting_entry() -> None:
    page = (DOCS / "troubleshooting.md").read_text()
    errors = [
        name
        for name in pylts.__all__
        if isinstance(getattr(pylts, name), type) and issubclass(getattr(pylts, name), Exception)
    ]
    assert len(errors) > 10
    assert not [name for name in errors if f"| `{name}` |" not in page]


def test_readme_starts_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```", lines.index("```sh") + 1)]
    assert [line.split("#")[0].strip() for line in block] == ["python3 tasks.py demo", "python3 tasks.py test"]
    assert "python3 tasks.py test" in (ROOT / ".ci" / "run").read_text()


def run_example(path: Path, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(path)], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.integration
def test_the_quickstart_runs_as_shown(local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    env = settings_env(local_s3.config(bucket, "app.db", folder=tmp_path / "data"))
    first = run_example(ROOT / "examples" / "quickstart.py", env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "database fresh" in first.stdout and "1 visit(s) recorded" in first.stdout
    assert "backup verified: ok" in first.stdout
    (tmp_path / "data" / "db.sqlite").unlink()  # a fresh machine: the database comes back from S3
    second = run_example(ROOT / "examples" / "quickstart.py", env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "database restored" in second.stdout and "2 visit(s) recorded" in second.stdout


@pytest.mark.integration
def test_the_demo_of_the_readme_runs(tmp_path: Path) -> None:
    result = run_example(ROOT / "examples" / "round_trip.py", dict(os.environ), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical" in result.stdout and result.stdout.rstrip().endswith("OK")


def python_blocks() -> list[tuple[str, str]]:
    """Every ```python block written in the README and the docs (inlined files are run by their own tests)."""
    blocks = []
    for page in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        written = without_inlines(page.read_text())
        for number, code in enumerate(re.findall(r"```python\n(.*?)\n```", written, flags=re.S), start=1):
            blocks.append((f"{page.relative_to(ROOT)}#{number}", code))
    return blocks


BLOCKS = python_blocks()


def test_the_docs_examples_were_collected() -> None:
    pages = {name.split("#")[0] for name, _ in BLOCKS}
    expected = {
        "README.md",
        "docs/index.md",
        "docs/examples.md",
        "docs/guides/beside-the-app.md",
        "docs/guides/restore-and-backups.md",
    }
    assert len(BLOCKS) >= 22 and expected <= pages  # 22 written out; inlined files run through their own tests


@pytest.mark.integration
@pytest.mark.parametrize(("name", "code"), BLOCKS, ids=[name for name, _ in BLOCKS])
def test_docs_example_runs(name: str, code: str, local_s3: LocalS3, bucket: str, tmp_path: Path) -> None:
    """Each example runs as a program, on a machine whose database exists only as a backup."""
    cfg = local_s3.config(bucket, "app.db", folder=tmp_path / "data")
    cfg.folder.mkdir()
    with closing(sqlite3.connect(cfg.dbpath)) as conn, conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    assert cfg.timed_replicate(30)
    result = subprocess.run(
        [sys.executable, "-c", code], env=settings_env(cfg), cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stderr}"


def test_every_public_name_is_in_the_api_reference() -> None:
    page = (DOCS / "api.md").read_text()
    documented_module = {name for name in pylts.__all__ if getattr(pylts, name).__module__ == "pylts.errors"}
    missing_names = [
        name for name in pylts.__all__ if f"::: pylts.{name}\n" not in page and name not in documented_module
    ]
    assert "::: pylts.errors" in page
    assert not missing_names, f"add to docs/api.md: {missing_names}"


@pytest.mark.integration
def test_a_local_s3_for_trying_pylts_by_hand(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "pylts.testing", "--bucket", "by-hand"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(5)]
        settings = dict(line.strip().split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
        assert settings["REPLICA_URL"] == "s3://by-hand/db.sqlite"
        (tmp_path / ".env").write_text("".join(line for line in lines if not line.startswith("#")))
        quickstart = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "quickstart.py")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert quickstart.returncode == 0, quickstart.stderr
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
        if server.stdout:
            server.stdout.close()
    assert server.returncode == 0
