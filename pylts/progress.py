"""A progress line for the command line: bytes written so far and the time taken, rewritten in place.

The bytes are measured from the files being written (a restore's staging copy) or, for a
backup, the database being uploaded; the library's calls and their results are untouched.

>>> progress_line("restoring app.db", 52_428_800, 1.3)
'restoring app.db: 52.4 MB written, 1.3 s'
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TextIO

from . import sqlite_files
from .timing import PROGRESS_INTERVAL

_CLEAR = "\r\x1b[K"  # back to the start of the line, and erase it


def progress_line(label: str, written: int, elapsed: float) -> str:
    """What the line says: ``label``, megabytes written, seconds since the start."""
    return f"{label}: {written / 1e6:.1f} MB written, {elapsed:.1f} s"


def staged_bytes(db: Path) -> int:
    """Bytes a restore of ``db`` has written so far: the files in its staging folders beside ``db``.

    The folders are named as `pylts.restore` makes them (``.NAME.restore-*``); they are gone once it ends.
    """
    return sum(_size(path) for folder in db.parent.glob(f".{db.name}.restore-*") for path in _files(folder))


def database_bytes(db: Path) -> int:
    """Bytes a backup of ``db`` uploads at most: the database and its WAL."""
    return _size(db) + _size(sqlite_files.wal_path(db))


class Progress:
    """While a ``with`` block runs, rewrite one line of ``stream`` every ``interval`` s; erase it at the end.

    The bytes shown never go down: a restore's staging copy vanishes when it is moved into place.
    """

    def __init__(
        self, label: str, measure: Callable[[], int], stream: TextIO, *, interval: float = PROGRESS_INTERVAL
    ) -> None:
        self._label, self._measure, self._stream, self._interval = label, measure, stream, interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name="pylts-progress", daemon=True)
        self._started = 0.0

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()
        self._write(_CLEAR)

    def _refresh(self) -> None:
        written = 0
        while not self._done.wait(self._interval):
            written = max(written, self._measure())
            self._write(_CLEAR + progress_line(self._label, written, time.monotonic() - self._started))

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


def _files(folder: Path) -> list[Path]:
    try:
        return [path for path in folder.iterdir() if path.is_file()]
    except OSError:  # removed while being measured
        return []


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
