"""What a litestream executable is: its path and its version number; `pylts.binary` finds and runs it.

Apart from `pylts.binary` so that what only names a version (the `pylts.lines.base.Line` protocol)
does not import the module that starts processes. `pylts.binary` exports these names too.

>>> parse_version("v0.3.13"), str(Version(0, 5, 17))
(Version(major=0, minor=3, patch=13), '0.5.17')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .errors import UnsupportedLitestreamVersion

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


class Version(NamedTuple):
    """A litestream version number."""

    major: int
    minor: int
    patch: int

    @property
    def line(self) -> str:
        """The release line (``"0.5"``), which `pylts.lines.line_for` picks its `pylts.lines.Line` by."""
        return f"{self.major}.{self.minor}"

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


@dataclass(frozen=True)
class Litestream:
    """A litestream executable and its version."""

    path: Path
    version: Version


def parse_version(text: str) -> Version:
    """Read the output of ``litestream version``.

    >>> parse_version("(development build)")
    Traceback (most recent call last):
    ...
    pylts.errors.UnsupportedLitestreamVersion: cannot read a version from litestream's output '(development build)':
    use a released litestream 0.5 (0.5.17 or later) or 0.3.13
    """
    match = _VERSION.match(text.strip())
    if not match:
        raise UnsupportedLitestreamVersion(
            f"cannot read a version from litestream's output {text.strip()!r}: "
            "use a released litestream 0.5 (0.5.17 or later) or 0.3.13"
        )
    return Version(*(int(g) for g in match.groups()))  # whether pylts drives it: `pylts.lines.line_for`
