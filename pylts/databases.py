"""Several databases replicated together: the main one and those ``PYLTS_DATABASES`` lists.

The main database is the one ``DB_FOLDER``/``DB_SQLITE`` and ``REPLICA_URL`` name, exactly as
with one database. ``PYLTS_DATABASES`` adds others, comma-separated, each ``FILE`` or
``FILE=REPLICA_URL``. A ``FILE`` is a name in ``DB_FOLDER`` (or a path); without a URL its
replica sits beside the main one, the last segment of ``REPLICA_URL``'s path replaced by the
file's name. Every other setting (credentials, endpoint, provider...) is shared: the databases
share one litestream process.

>>> from pylts import ConfigS3
>>> main = ConfigS3(key="k", token="t", s3="s3://backups/app.db", folder="/srv/app", db="app.db")
>>> dbs = DatabaseSet.of(main, ["queue.db", "/srv/cache/cache.db=s3://backups/cache/db"])
>>> [(str(cfg.dbpath), cfg.s3) for cfg in dbs.configs]
[('/srv/app/app.db', 's3://backups/app.db'), ('/srv/app/queue.db', 's3://backups/queue.db'),
 ('/srv/cache/cache.db', 's3://backups/cache/db')]
>>> DatabaseSet.of(main, ["app.sqlite=s3://backups/app.db"])
Traceback (most recent call last):
...
pylts.errors.InvalidSettings: invalid settings: PYLTS_DATABASES entry 1 (app.sqlite) and DB_SQLITE (app.db): \
share the replica path s3://backups/app.db: give each database its own replica path
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from . import binary
from .boot_report import BootPolicy, BootReport
from .commands import config_yaml
from .errors import InvalidSettings
from .lines import line_for
from .replica import S3Replica
from .reports import ReplicaContents
from .settings_base import DATABASES_VARIABLE
from .settings_base import DatabaseList as DatabaseList  # its home before; the CLI and the docs import it here
from .sqlite_files import IntegrityCheck
from .supervisor import Replicable, Replicator, run_app
from .timing import LISTING_TIMEOUT, RESTORE_TIMEOUT
from .tuning import Tuning

if TYPE_CHECKING:
    from typing_extensions import Self


class DatabaseSettings(Replicable, Protocol):
    """What a `DatabaseSet` reads of each database's settings: `pylts.ConfigS3` is one.

    The set is given its settings by its caller and makes the others with ``type(main).load``, so it
    needs no import of the settings model, and sits beside it rather than above it.
    """

    @property
    def db(self) -> str: ...
    @property
    def folder(self) -> Path: ...
    @property
    def s3(self) -> str: ...
    @property
    def secondary_url(self) -> str | None: ...
    @property
    def litestream_bin(self) -> Path | None: ...
    @property
    def dbpath(self) -> Path: ...
    @property
    def replica(self) -> S3Replica: ...
    @property
    def tuning(self) -> Tuning: ...
    def secondary_replica(self, primary: S3Replica) -> S3Replica | None: ...
    def ensure_restored(
        self, *, integrity_check: IntegrityCheck = ..., timeout: float = ..., policy: BootPolicy | str | None = ...
    ) -> BootReport: ...
    def replica_contents(self, *, timeout: float = ...) -> ReplicaContents: ...
    def __iter__(self) -> Iterator[tuple[str, Any]]: ...
    @classmethod
    def load(cls, **values: Any) -> Self: ...


_C = TypeVar("_C", bound=DatabaseSettings)


@dataclass(frozen=True)
class DatabaseSet(Generic[_C]):
    """The main database and the others, checked together: no two share a file, a file name or a replica path."""

    configs: tuple[_C, ...]

    @classmethod
    def of(cls, main: _C, entries: Sequence[str] = ()) -> DatabaseSet[_C]:
        """``main`` plus one database per ``FILE[=REPLICA_URL]`` entry; `InvalidSettings` names the entries at fault."""
        named = [(f"DB_SQLITE ({main.db})", main)]
        named += [
            (_entry_name(number, entry), _entry_config(main, number, entry)) for number, entry in _numbered(entries)
        ]
        _check_apart(named)
        return cls(tuple(cfg for _, cfg in named))

    @classmethod
    def load(cls, main: _C, **values: Any) -> DatabaseSet[_C]:
        """``main`` plus ``PYLTS_DATABASES`` from ``values``, the environment or ``.env`` (as `ConfigS3.load`)."""
        return cls.of(main, DatabaseList.load(**values).entries)

    @property
    def main(self) -> _C:
        """The database ``DB_SQLITE`` and ``REPLICA_URL`` name."""
        return self.configs[0]

    def replicating(self, **options: Any) -> Replicator:
        """One supervised litestream for every database (the options are `Replicator`'s)."""
        return Replicator(self.configs, **options)

    def run_app(self, command: Sequence[str], **options: Any) -> int:
        """Run ``command`` with every database replicated around it; return its exit code (see `run_app`)."""
        return run_app(self.configs, command, **options)

    def ensure_restored(self, *, timeout: float = RESTORE_TIMEOUT, **options: Any) -> list[BootReport]:
        """`ConfigS3.ensure_restored` for each database in turn, each with its own ``timeout``; stops at an error."""
        return [cfg.ensure_restored(timeout=timeout, **options) for cfg in self.configs]

    def replica_contents(self, *, timeout: float = LISTING_TIMEOUT) -> list[ReplicaContents]:
        """What each replica holds, in the order of `configs`."""
        return [cfg.replica_contents(timeout=timeout) for cfg in self.configs]

    def litestream_config(self) -> str:
        """One litestream config for every database, credentials as placeholders (see `ConfigS3.litestream_config`)."""
        line = line_for(binary.locate(self.main.litestream_bin))
        dbs = {cfg.dbpath: cfg.replica for cfg in self.configs}
        return config_yaml(line, dbs, credential_placeholders=True, tuning=self.main.tuning)


def _numbered(entries: Sequence[str]) -> list[tuple[int, str]]:
    return list(enumerate((entry.strip() for entry in entries if entry.strip()), start=1))


def _entry_name(number: int, entry: str) -> str:
    """How an error names an entry: its number and its file, never its URL (which could hide a mistyped secret)."""
    return f"{DATABASES_VARIABLE} entry {number} ({entry.partition('=')[0].strip()})"


def _entry_config(main: _C, number: int, entry: str) -> _C:
    """The settings of one entry: ``main``'s, with its own file and replica URL."""
    file, _, url = (part.strip() for part in entry.partition("="))
    path = main.folder / Path(file).expanduser()
    values = {**dict(main), "folder": path.parent, "db": path.name, "s3": url or _beside(main.s3, path.name)}
    if main.secondary_url is not None:  # each database's snapshots in a folder of their own, as its replica
        values["secondary_url"] = _beside(main.secondary_url, path.name)
    try:
        return type(main).load(_env_file=None, **values)
    except InvalidSettings as exc:
        problems = "; ".join(f"{setting}: {message}" for setting, message in exc.problems)
        raise InvalidSettings([(_entry_name(number, entry), problems)]) from None


def _beside(url: str, name: str) -> str:
    """``url`` with the last segment of its path replaced by ``name``: the replica next to the main one.

    >>> _beside("s3://backups/prod/app.db?region=auto", "queue.db")
    's3://backups/prod/queue.db?region=auto'
    """
    parts = urlsplit(url.strip())
    folder = parts.path.strip("/").rpartition("/")[0]
    return urlunsplit(parts._replace(path="/" + "/".join(filter(None, [folder, name]))))


def _check_apart(named: Sequence[tuple[str, DatabaseSettings]]) -> None:
    """No two databases may share a file, a file name (litestream tells them apart by it) or a replica path."""
    problems: list[tuple[str, str]] = []
    for index, (name, cfg) in enumerate(named):
        for other_name, other in named[:index]:
            problem = _clash(cfg, other)
            if problem:
                problems.append((f"{name} and {other_name}", problem))
    if problems:
        raise InvalidSettings(problems)


def _clash(cfg: DatabaseSettings, other: DatabaseSettings) -> str | None:
    if os.path.realpath(cfg.dbpath) == os.path.realpath(other.dbpath):
        return f"are the same file {cfg.dbpath}: list each database once"
    if cfg.dbpath.name == other.dbpath.name:
        return f"have the same file name {cfg.db}: litestream tells databases apart by name, so rename one"
    mine, theirs = _replica_key(cfg.replica), _replica_key(other.replica)
    if mine[:2] == theirs[:2] and _nested(mine[2], theirs[2]):
        shared = f"s3://{mine[1]}/{min(mine[2], theirs[2], key=len)}"
        return f"share the replica path {shared}: give each database its own replica path"
    mine_second, theirs_second = cfg.secondary_replica(cfg.replica), other.secondary_replica(other.replica)
    if mine_second is not None and theirs_second is not None:
        mine, theirs = _replica_key(mine_second), _replica_key(theirs_second)
        if mine[:2] == theirs[:2] and _nested(mine[2], theirs[2]):
            shared = f"s3://{mine[1]}/{min(mine[2], theirs[2], key=len)}"
            return (
                f"share the second destination's path {shared}: give PYLTS_SECONDARY_URL a path ending "
                "in a file name, so that each database's snapshots go beside it under their own name"
            )
    return None


def _replica_key(replica: S3Replica) -> tuple[tuple[str, int], str, str]:
    return replica.address(), replica.bucket, replica.path.strip("/")


def _nested(path: str, other: str) -> bool:
    """Whether one replica path is the other or lies inside it (their files would mix)."""
    return path == other or path.startswith(other + "/") or other.startswith(path + "/")
