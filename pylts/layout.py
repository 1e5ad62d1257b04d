"""What a replica's objects are: litestream 0.5's LTX files, litestream 0.3's generations, or both.

Pure: it reads the keys one bucket listing (`pylts.store.list_objects`) returned under a
replica's path. litestream 0.5 writes ``PATH/<level>/<min txid>-<max txid>.ltx`` (four and
sixteen hex digits); 0.3 writes everything under ``PATH/generations/``. Both can stand at one
URL (a replica moved from 0.3 to 0.5 keeps its old files), so a replica has a *set* of layouts.
An `LtxFile` is one such file, made from a listing here or read from ``litestream ltx -json``.

>>> from datetime import datetime, timezone
>>> from pylts.layout import StoredObject
>>> now = datetime(2026, 12, 4, tzinfo=timezone.utc)
>>> objects = ReplicaObjects.of("app.db", [
...     StoredObject("app.db/0000/0000000000000001-0000000000000003.ltx", 591, now),
...     StoredObject("app.db/generations/3ce165c988a8804f/snapshots/00000000.snapshot.lz4", 800, now),
...     StoredObject("app.db-other/0000/0000000000000001-0000000000000001.ltx", 10, now),
... ])
>>> sorted(layout.value for layout in objects.layouts)
['0.3', '0.5']
>>> [(f.level, f.min_txid_number, f.max_txid_number) for f in objects.ltx_files]
[(0, 1, 3)]
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class LtxFile(BaseModel):
    """One LTX file of a litestream 0.5 replica, as ``litestream ltx -json`` lists it (`pylts.reports` exports it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    level: int
    min_txid: str
    max_txid: str
    size: int
    timestamp: datetime

    @property
    def min_txid_number(self) -> int:
        """The first transaction id this file holds, as an integer."""
        return int(self.min_txid, 16)

    @property
    def max_txid_number(self) -> int:
        """The last transaction id this file holds, as an integer."""
        return int(self.max_txid, 16)


@dataclass(frozen=True)
class StoredObject:
    """One object of a bucket listing (`pylts.store.list_objects` makes them; `pylts.store` exports it too)."""

    key: str
    size: int
    last_modified: datetime


_LTX = re.compile(r"^(?P<level>[0-9a-f]{4})/(?P<min>[0-9a-f]{16})-(?P<max>[0-9a-f]{16})\.ltx$")
_GENERATIONS = "generations/"


class Layout(str, enum.Enum):
    """How a litestream line lays a replica out in the bucket."""

    V05 = "0.5"  #: LTX files, one folder per compaction level
    V03 = "0.3"  #: generations, each with snapshots and WAL segments


def replica_prefix(path: str) -> str:
    """The key prefix of every object of a replica at ``path`` (its folder, never a sibling's).

    >>> replica_prefix("backups/app.db"), replica_prefix("app.db/"), replica_prefix("")
    ('backups/app.db/', 'app.db/', '')
    """
    path = path.strip("/")
    return f"{path}/" if path else ""


def level_folder(level: int) -> str:
    """The folder of litestream 0.5's LTX files at compaction ``level``, relative to the replica's path.

    >>> level_folder(0), level_folder(9)
    ('0000/', '0009/')
    """
    return f"{level:04x}/"


@dataclass(frozen=True)
class ReplicaObjects:
    """The objects found under one replica's path, keyed relative to it."""

    objects: tuple[StoredObject, ...]

    @classmethod
    def of(cls, path: str, listed: Iterable[StoredObject]) -> ReplicaObjects:
        """The objects of ``listed`` that belong to the replica at ``path``, their keys made relative."""
        prefix = replica_prefix(path)
        return cls(
            tuple(
                StoredObject(item.key[len(prefix) :], item.size, item.last_modified)
                for item in listed
                if item.key.startswith(prefix)
            )
        )

    @property
    def layouts(self) -> frozenset[Layout]:
        """The layouts present: empty when the replica holds nothing litestream wrote."""
        found = set()
        for item in self.objects:
            if item.key.startswith(_GENERATIONS):
                found.add(Layout.V03)
            elif _LTX.match(item.key):
                found.add(Layout.V05)
        return frozenset(found)

    @property
    def ltx_files(self) -> list[LtxFile]:
        """litestream 0.5's LTX files at every level, as ``litestream ltx -json -level all`` would list them.

        Their ``timestamp`` is the object's modification time in the store.
        """
        files = []
        for item in self.objects:
            match = _LTX.match(item.key)
            if match:
                files.append(
                    LtxFile(
                        level=int(match["level"], 16),
                        min_txid=match["min"],
                        max_txid=match["max"],
                        size=item.size,
                        timestamp=item.last_modified,
                    )
                )
        return files

    @property
    def size(self) -> int:
        """Bytes stored under the replica's path, every layout together."""
        return sum(item.size for item in self.objects)
