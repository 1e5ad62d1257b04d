"""Django: add ``"pylts.integrations.django"`` to ``INSTALLED_APPS``.

Every SQLite database is restored (if missing) before Django opens it, and ``manage.py pylts ...``
runs the pylts command line with the settings taken from Django's:

```python
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"},
    "queue": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "queue.sqlite3"},
}
PYLTS = {"s3": "s3://my-backups/app.db"}  # any ConfigS3 field; credentials from the environment
```

The main database is ``DATABASES[PYLTS.get("database", "default")]``, its replica ``PYLTS["s3"]``.
Every other SQLite database is replicated with it, its replica beside the main one
(``s3://my-backups/queue.sqlite3``), unless ``PYLTS["databases"]`` names the aliases to
replicate (a list) or maps each to its replica URL (a dict; ``None`` for beside the main one).
The other `ConfigS3` fields come from ``PYLTS``, then the environment and ``.env``. Run the server
(or a migration) under replication with ``manage.py pylts replicate --exec "gunicorn mysite.wsgi"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ...config import ConfigS3
from ...databases import DatabaseSet
from ...errors import InvalidSettings


def pylts_settings() -> dict[str, Any]:
    """The settings Django's give: ``PYLTS``, the main database's path, and the others as ``databases`` entries."""
    from django.conf import settings

    values: dict[str, Any] = dict(getattr(settings, "PYLTS", {}) or {})
    alias = values.pop("database", "default")
    clash = sorted({"folder", "db"} & values.keys())
    if clash:
        raise InvalidSettings(
            [
                (name, f"comes from DATABASES[{alias!r}]['NAME'] in a Django project: remove it from PYLTS")
                for name in clash
            ]
        )
    databases: Mapping[str, Any] = settings.DATABASES
    path = _sqlite_path(databases, alias, "database")
    others = _replicated_with(databases, alias, values.pop("databases", None))
    entries = [_entry(_sqlite_path(databases, other, "databases"), url) for other, url in others]
    return {**values, "folder": path.parent, "db": path.name, "databases": entries}


def database_set() -> DatabaseSet[ConfigS3]:
    """Every database Django's settings replicate, checked together (what ``AppConfig.ready`` restores)."""
    values = pylts_settings()
    entries = values.pop("databases")
    return DatabaseSet.of(ConfigS3.load(**values), entries)


def _sqlite_path(databases: Mapping[str, Any], alias: str, setting: str) -> Path:
    database = databases.get(alias)
    if database is None:
        raise InvalidSettings([(setting, f"DATABASES has no {alias!r}: name a database alias in PYLTS[{setting!r}]")])
    if not _is_sqlite_file(database):
        raise InvalidSettings(
            [(setting, f"DATABASES[{alias!r}] is not a SQLite file: pylts replicates SQLite files only")]
        )
    return Path(database["NAME"])


def _replicated_with(databases: Mapping[str, Any], main: str, named: object) -> list[tuple[str, str | None]]:
    """The aliases replicated beside ``main``, each with its replica URL (``None``: beside the main replica)."""
    if named is None:
        return [(alias, None) for alias, database in databases.items() if alias != main and _is_sqlite_file(database)]
    if isinstance(named, Mapping):
        return [(str(alias), url) for alias, url in named.items() if alias != main]
    if isinstance(named, (list, tuple)):
        return [(str(alias), None) for alias in named if alias != main]
    raise InvalidSettings([("databases", "PYLTS['databases'] is a list of aliases, or a dict of alias to replica URL")])


def _entry(path: Path, url: str | None) -> str:
    """One ``PYLTS_DATABASES`` entry: ``PATH``, or ``PATH=REPLICA_URL``."""
    return str(path) if url is None else f"{path}={url}"


def _is_sqlite_file(database: Mapping[str, Any]) -> bool:
    return str(database.get("ENGINE", "")).endswith("sqlite3") and str(database.get("NAME", "")) not in ("", ":memory:")
