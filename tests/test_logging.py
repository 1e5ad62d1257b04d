"""pylts logs like a library: silent until the app sets logging up, routed and filtered by stdlib `logging`."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from helpers import write_rows

from pylts import ConfigS3
from pylts.testing import ACCESS_KEY, SECRET_KEY

#: A program that makes pylts warn (litestream 0.5 cannot load AWS_CA_BUNDLE), after SETUP.
WARN = """
from pathlib import Path
from pylts.binary import Litestream, Version
from pylts.commands import child_env
from pylts.lines import line_for
child_env({"AWS_CA_BUNDLE": "/etc/bundle.pem"}, line_for(Litestream(Path("x"), Version(0, 5, 17))), credentials=None)
print("done")
"""


def run_python(setup: str) -> subprocess.CompletedProcess[str]:
    code = f"import logging\n{setup}\n{WARN}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_nothing_is_printed_when_the_app_has_not_set_logging_up() -> None:
    result = run_python("")
    assert (result.returncode, result.stdout, result.stderr) == (0, "done\n", "")


def test_warnings_reach_the_apps_own_logging_setup() -> None:
    result = run_python("logging.basicConfig(format='%(levelname)s %(name)s: %(message)s')")
    assert result.returncode == 0, result.stderr
    assert "WARNING pylts.lines.v05: AWS_CA_BUNDLE is set; litestream 0.5.17 cannot load it" in result.stderr


def test_the_app_silences_pylts_like_any_library() -> None:
    result = run_python("logging.basicConfig()\nlogging.getLogger('pylts').setLevel(logging.ERROR)")
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.integration
def test_the_switch_turns_on_what_pylts_does_and_debug_what_litestream_says(
    cfg: ConfigS3, caplog: pytest.LogCaptureFixture
) -> None:
    cfg.folder.mkdir()
    write_rows(cfg.dbpath, 10)
    with caplog.at_level(logging.INFO, logger="pylts"):
        assert cfg.timed_replicate(60)
        assert cfg.ensure_restored().value == "restored"
    names = {record.name for record in caplog.records}
    assert {"pylts.backup", "pylts.boot", "pylts.restore"} <= names
    assert "pylts.runner" not in names, "litestream's own lines are debug only"
    assert any(record.getMessage().startswith(f"restored {cfg.dbpath}") for record in caplog.records)

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="pylts"):
        assert cfg.replica_contents().empty is False
    lines = [record.getMessage() for record in caplog.records if record.name == "pylts.runner"]
    assert any(line.startswith("running ") for line in lines)
    assert any(line.startswith("litestream[") for line in lines)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert ACCESS_KEY not in text and SECRET_KEY not in text
