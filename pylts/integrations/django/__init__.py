"""Django: add ``"pylts.integrations.django"`` to ``INSTALLED_APPS``.

The database is restored (if missing) before Django opens it, and ``manage.py pylts ...``
runs the pylts command line with the settings taken from Django's:

```python
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
PYLTS = {"s3": "s3://my-backups/app.db"}  # any ConfigS3 field; credentials from the environment
```

The path comes from ``DATABASES[PYLTS.get("database", "default")]["NAME"]``; the other
`ConfigS3` fields from ``PYLTS``, then the environment and ``.env``. Run the server (or a
migration) under replication with ``manage.py pylts replicate --exec "gunicorn mysite.wsgi"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import InvalidSettings


def pylts_settings() -> dict[str, Any]:
    """The `ConfigS3` fields Django's settings give: ``PYLTS`` plus the database path from ``DATABASES``."""
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
    database = settings.DATABASES.get(alias)
    if database is None:
        raise InvalidSettings([("database", f"DATABASES has no {alias!r}: name a database alias in PYLTS['database']")])
    if not str(database.get("ENGINE", "")).endswith("sqlite3"):
        raise InvalidSettings(
            [("database", f"DATABASES[{alias!r}] is not a SQLite database: pylts replicates SQLite files only")]
        )
    path = Path(database["NAME"])
    return {**values, "folder": path.parent, "db": path.name}
