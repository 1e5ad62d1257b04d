"""pylts' own ``PYLTS_`` namespace: a variable in it that no setting reads is a typo, and is said so."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pylts import ConfigS3, InvalidSettings
from pylts.databases import DatabaseList
from pylts.settings import LitestreamSettings
from pylts.settings_base import UnknownSettingWarning, pylts_variables

#: The console script pip installed beside this Python: the CLI as a user types it.
PYLTS = Path(sys.executable).with_name("pylts")
REQUIRED = {
    "LITESTREAM_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "LITESTREAM_SECRET_ACCESS_KEY": "s3cr3t-value",
    "REPLICA_URL": "s3://backups/app.db",
}


def cli(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYLTS_")}
    return subprocess.run(
        [str(PYLTS), *args], env={**env, **REQUIRED, **variables}, capture_output=True, text=True, timeout=60
    )


def test_a_misspelled_variable_in_the_environment_is_named_with_the_real_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PYLTS_BOOT_POLCY", "adopt")
    with pytest.warns(UnknownSettingWarning) as caught:
        cfg = ConfigS3(_env_file=None)
    assert cfg.boot_policy.value == "refuse"  # ignored, and now said so
    assert [str(w.message) for w in caught] == [
        "PYLTS_BOOT_POLCY is not a pylts setting; did you mean PYLTS_BOOT_POLICY? It is ignored "
        "(found in the environment; PYLTS_STRICT=1 makes this an error)"
    ]


def test_a_misspelled_variable_in_dotenv_names_the_file(tmp_path: Path) -> None:
    settings = tmp_path / "prod.env"
    settings.write_text("pylts_snapshot_retension=7d\nREPLICA_URL=s3://backups/app.db\n")
    with pytest.warns(UnknownSettingWarning, match=rf"PYLTS_SNAPSHOT_RETENTION\? .*found in {settings}"):
        DatabaseList(_env_file=settings)


def test_strict_makes_it_an_invalid_settings_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    Path(".env").write_text("PYLTS_STRICT=true\nPYLTS_MAX_BACKOF=5\n")
    with pytest.raises(InvalidSettings, match=r"PYLTS_MAX_BACKOF \(in \.env\): not a pylts setting; did you mean "):
        LitestreamSettings()
    monkeypatch.setenv("PYLTS_STRICT", "maybe")
    with pytest.raises(InvalidSettings, match=r"PYLTS_STRICT \(in the environment\): must be true or false"):
        LitestreamSettings()
    monkeypatch.setenv("PYLTS_STRICT", "0")  # the environment wins over the file, as for every setting
    with pytest.warns(UnknownSettingWarning, match="PYLTS_MAX_BACKOF is not a pylts setting"):
        LitestreamSettings()


#: Where pylts' own variables are set or documented: every name there must be one pylts reads.
SPEAKING = ["pylts", "docs", "examples", "benchmarks", "README.md", ".env.example", "tasks.py", "CHANGELOG.md"]
#: Names that are not settings, on purpose.
NOT_SETTINGS = {
    "PYLTS_": "the namespace itself",
    "PYLTS_VFS_AUTHKEY": "handed to the VFS helper process, and removed before it reads any settings",
    "PYLTS_BOOT_POLCY": "the docs' example of a misspelled name",
    "PYLTS_WHATEVER_ELSE": "a doctest's name that is close to none",
}


def test_every_pylts_variable_the_repository_sets_or_documents_is_one_pylts_reads() -> None:
    root = Path(__file__).resolve().parent.parent
    files = [
        path for name in SPEAKING for path in ([root / name] if (root / name).is_file() else (root / name).rglob("*"))
    ]
    named = {
        match
        for path in files
        if path.is_file() and path.suffix in {".py", ".md", ".example", ".toml", ".yml", ""}
        for match in re.findall(r"\bPYLTS_[A-Z0-9_]*", path.read_text(encoding="utf-8", errors="replace"))
    }
    assert "PYLTS_BOOT_POLICY" in named  # the scan sees the docs
    unknown = sorted(named - pylts_variables() - set(NOT_SETTINGS))
    assert not [name for name in unknown if not name.startswith("PYLTS_TEST_")], unknown


def test_other_programs_variables_and_the_test_suites_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYLTS_STRICT", "1")
    monkeypatch.setenv("PYLTS_TEST_ANYTHING", "the test suite's")
    monkeypatch.setenv("LITESTREAM_CONFIG", "/etc/litestream.yml")
    monkeypatch.setenv("MYAPP_PYLTS_BOOT_POLCY", "not ours")
    LitestreamSettings()  # no error: nothing unknown in PYLTS_


def test_a_bad_strict_value_is_refused_even_with_nothing_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYLTS_STRICT", "maybe")
    with pytest.raises(InvalidSettings, match=r"PYLTS_STRICT \(in the environment\): must be true or false"):
        LitestreamSettings(_env_file=None)


def test_the_warning_points_at_the_line_that_built_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYLTS_MAX_BACKOF", "5")
    with pytest.warns(UnknownSettingWarning) as caught:
        LitestreamSettings(_env_file=None)
    assert [Path(w.filename).name for w in caught] == [Path(__file__).name]


def test_the_known_variables_do_not_depend_on_what_was_imported() -> None:
    """The settings classes are found as subclasses: ``pylts.settings`` alone must already have made them all.

    Every public way to a settings model imports it (``from pylts import ConfigS3``, `pylts.databases`, the CLI);
    ``import pylts`` alone imports no settings class (it loads its errors only).
    """
    for module in ("pylts.cli", "pylts.databases", "pylts.testing", "pylts.vfs", "pylts.follow"):
        importlib.import_module(module)
    fresh = subprocess.run(
        [sys.executable, "-c", "import pylts.settings, pylts.settings_base as s; print(sorted(s.pylts_variables()))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert fresh.stdout.strip() == str(sorted(pylts_variables()))


def test_the_installed_cli_warns_and_under_strict_refuses() -> None:
    warned = cli("config", "--db", "app.db", PYLTS_BOOT_POLCY="adopt")
    assert warned.returncode == 0, warned.stderr
    # one line in the command's own voice (once, though several settings classes are read), not Python's
    # "settings_base.py:221: UnknownSettingWarning: ..." followed by a line of pylts' source
    assert warned.stderr == (
        "pylts: warning: PYLTS_BOOT_POLCY is not a pylts setting; did you mean PYLTS_BOOT_POLICY? It is ignored "
        "(found in the environment; PYLTS_STRICT=1 makes this an error)\n"
    )
    assert cli("-q", "config", "--db", "app.db", PYLTS_BOOT_POLCY="adopt").stderr == warned.stderr  # -q: warnings
    assert cli("-q", "config", "--db", "app.db", "-q", PYLTS_BOOT_POLCY="adopt").stderr == ""  # -q and -q: -qq
    refused = cli("config", "--db", "app.db", PYLTS_BOOT_POLCY="adopt", PYLTS_STRICT="1")
    assert refused.returncode == 2, refused.stderr
    assert "PYLTS_BOOT_POLCY (in the environment): not a pylts setting; did you mean PYLTS_BOOT_POLICY?" in (
        refused.stderr
    )
    assert refused.stdout == ""
