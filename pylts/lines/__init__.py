"""One seam per litestream line: everything that differs between 0.5 and 0.3, behind `Line`.

`line_for` picks the implementation once, from the detected version; a `RunContext`
carries it, so callers write ``ctx.line.backup_once(ctx, deadline)`` and never ask which
line they are on. Each line is a package (`pylts.lines.v05`, `pylts.lines.v03`) that
`LINES` registers by name: dropping a line means deleting its package, its tests and its
one entry there.

>>> from pathlib import Path
>>> from pylts.binary import Litestream, Version
>>> line_for(Litestream(Path("/bin/litestream"), Version(0, 5, 17))).name
'0.5'
"""

from __future__ import annotations

import importlib

from ..binary import Litestream
from ..errors import UnsupportedLitestreamVersion
from .base import Context, Line, LineClass, Standing

__all__ = ["LINES", "Context", "Line", "LineClass", "Standing", "line_for"]


#: The packages of the lines pylts drives, newest first; each exports ``LINE`` (a `LineClass`).
LINES = (
    "v05",
    "v03",  # line 0.3
)


def registered() -> dict[str, LineClass]:
    """Each registered line's class, by its release line (``Version.line``)."""
    classes: list[LineClass] = [importlib.import_module(f"{__name__}.{package}").LINE for package in LINES]
    return {line.name: line for line in classes}


def line_for(litestream: Litestream) -> Line:
    """The `Line` that drives ``litestream``; the only place that asks for its version's line.

    >>> from pathlib import Path
    >>> from pylts.binary import Version
    >>> line_for(Litestream(Path("/usr/bin/litestream"), Version(0, 5, 8)))
    Traceback (most recent call last):
    ...
    pylts.errors.UnsupportedLitestreamVersion: litestream 0.5.8 (/usr/bin/litestream) is too old: pylts drives ...
    """
    lines = registered()
    if litestream.version.line not in lines:
        supported = " and ".join(f"the {line.name} line ({line.install})" for line in lines.values())
        raise UnsupportedLitestreamVersion(
            f"litestream {litestream.version} is not supported: pylts drives {supported}"
        )
    line = lines[litestream.version.line]
    if litestream.version < line.oldest:
        raise UnsupportedLitestreamVersion(
            f"litestream {litestream.version} ({litestream.path}) is too old: pylts drives {line.oldest} or later "
            f"on the {line.name} line ({line.oldest_because}): {line.install}, "
            "or point LITESTREAM_BIN at a newer executable"
        )
    return line(litestream)
