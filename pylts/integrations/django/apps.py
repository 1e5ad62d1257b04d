"""The Django app: restore every replicated database in ``ready()``, before any query."""

from __future__ import annotations

import sys

from django.apps import AppConfig

from . import database_set


class PyltsConfig(AppConfig):
    name = "pylts.integrations.django"
    label = "pylts"
    verbose_name = "pylts"

    def ready(self) -> None:
        """Restore each missing database; refuse to boot on a stale or foreign one (`BootRefused`).

        ``manage.py pylts ...`` skips this: its own commands decide, and ``contents`` must work
        on a machine whose boot is refused.
        """
        if sys.argv[1:2] == ["pylts"]:
            return
        database_set().ensure_restored()
