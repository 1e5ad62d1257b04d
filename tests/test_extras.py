"""A missing optional dependency is a typed error whose message is the exact pip line, never a bare traceback.

Each case runs a fresh Python in which the dependency cannot be imported (``sys.modules[name] = None``),
as on a machine where the extra was never installed.
"""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

import pylts
from pylts import MissingExtra

HIDE = "import sys\nfor name in {names!r}: sys.modules[name] = None\n"


def run_without(names: list[str], code: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    program = HIDE.format(names=names) + code
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


def pinned_line(text: str, extra: str) -> str:
    """The pip line in ``text``; it must install ``extra`` of this pylts or a later one, never the index's 0.0.9."""
    found = re.search(rf'pip install "pylts\[{extra}\]>=([^"]+)"', text)
    assert found, text
    assert found[1] == pylts.__version__  # the pylts running, which the index's 0.0.9 is older than
    return found[0]


def test_local_s3_without_moto_names_the_testing_extra() -> None:
    code = (
        "from pylts import MissingExtra, PyltsError\nfrom pylts.testing import LocalS3\n"
        "try:\n    LocalS3()\nexcept MissingExtra as exc:\n"
        "    print(isinstance(exc, ImportError), isinstance(exc, PyltsError), exc.name, exc.extra)\n    print(exc)\n"
    )
    result = run_without(["moto", "moto.server"], code)
    assert result.returncode == 0, result.stderr
    first, message = result.stdout.splitlines()
    assert first == "True True moto testing"
    assert message.startswith("LocalS3 needs moto: ") and pinned_line(message, "testing")


def test_python_m_pylts_testing_prints_the_line_not_a_traceback() -> None:
    code = "import runpy\nsys.argv = ['pylts.testing']\nrunpy.run_module('pylts.testing', run_name='__main__')\n"
    result = run_without(["moto", "moto.server"], code)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("python -m pylts.testing: LocalS3 needs moto: ")
    pinned_line(result.stderr, "testing")


def test_the_pytest_fixtures_without_moto_fail_with_the_line(tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text("def test_backup(pylts_config):\n    assert pylts_config\n")
    code = "import pytest\nsys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', 'test_app.py']))\n"
    result = run_without(["moto", "moto.server"], code, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "LocalS3 needs moto: " in result.stdout
    pinned_line(result.stdout, "testing")
    assert "pylts/testing.py" not in result.stdout  # the line, not a traceback into pylts


def test_the_asgi_integration_without_anyio_names_the_starlette_extra() -> None:
    code = (
        "import asyncio\nfrom pylts import ConfigS3, MissingExtra\nfrom pylts.integrations.asgi import lifespan\n"
        "cfg = ConfigS3(key='k', token='t', s3='s3://backups/app.db', _env_file=None)\n"
        "async def serve():\n    async with lifespan(cfg)(app=None):\n        pass\n"
        "try:\n    asyncio.run(serve())\nexcept MissingExtra as exc:\n    print(exc)\n"
    )
    result = run_without(["anyio", "anyio.to_thread"], code)
    assert result.returncode == 0, result.stderr
    assert "needs anyio: " in result.stdout
    pinned_line(result.stdout, "starlette")


@pytest.mark.parametrize("missing", [["apsw"], ["litestream_vfs"]])
def test_the_vfs_without_its_packages_names_the_vfs_extra(missing: list[str]) -> None:
    code = "from pylts.vfs import vfs_problem, _problem_here\nprint(_problem_here())\n"
    result = run_without(missing, code)
    assert result.returncode == 0, result.stderr
    pinned_line(result.stdout, "vfs")


def test_the_error_crosses_a_process_boundary_whole() -> None:
    """multiprocessing pickles what a worker raises: the error must come back with its pip line."""
    error = MissingExtra("LocalS3", "moto", "testing")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.name, copy.extra) == (MissingExtra, str(error), "moto", "testing")
