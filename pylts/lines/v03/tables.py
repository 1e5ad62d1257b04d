"""What litestream 0.3 prints and leaves as tables and files: its listings, rows typed, and its generation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ... import sqlite_files
from ...reports import read_reported

T = TypeVar("T")


def parse_table(text: str, renames: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Rows of the whitespace-aligned tables litestream 0.3 prints, keyed by header.

    >>> parse_table(
    ...     "name  generation        lag    start                 end\\n"
    ...     "s3    539504316517faad  389ms  2026-11-22T13:41:54Z  2026-11-22T13:41:55Z\\n",
    ...     {"name": "replica"},
    ... )
    [{'replica': 's3', 'generation': '539504316517faad', 'lag': '389ms',
      'start': '2026-11-22T13:41:54Z', 'end': '2026-11-22T13:41:55Z'}]
    """
    lines = [line.split() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return []
    header = [(renames or {}).get(name, name) for name in lines[0]]
    return [dict(zip(header, row, strict=True)) for row in lines[1:] if len(row) == len(header)]


def parse_rows(what: str, model: Callable[[dict[str, str]], T], rows: list[dict[str, str]]) -> list[T]:
    """Each row of a litestream 0.3 table as a typed ``model``."""
    return [read_reported(what, row, model) for row in rows]


def local_generation(db: Path) -> str | None:
    """The generation litestream 0.3 last replicated ``db`` in, from its metadata."""
    try:
        return (sqlite_files.litestream_meta(db) / "generation").read_text(encoding="utf-8").strip() or None
    except (FileNotFoundError, NotADirectoryError):
        return None
